/** What the reader needs to decode a sample's leading struct; built from BTF (src/btf) or by hand. */
export interface StructDecoder {
  /** sizeof(struct) in bytes: the struct is data[0, size); the rest is `packet`. */
  readonly size: number;
  decode(view: DataView, offset: number): Record<string, unknown>;
}
