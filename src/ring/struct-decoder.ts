/** What the reader needs to decode a sample's leading struct; built from BTF (src/btf) or by hand. */
export interface StructDecoder {
  /** sizeof(struct) in bytes: the struct is data[0, size); the rest is `packet`. */
  readonly size: number;
  /** `viewLength`: view.byteLength, passed by the reader (decoders may use it instead of reading it). */
  decode(view: DataView, offset: number, viewLength?: number): Record<string, unknown>;
  /**
   * A field of the struct that gives the length of the appended packet bytes (e.g. `len` holding
   * skb->len, or `caplen`); used to tell perf's padding from packet bytes.
   */
  lengthField?: string;
}

/** Field names that, by convention, carry the packet (or captured) length. */
export const LENGTH_FIELDS = ['caplen', 'cap_len', 'pkt_len', 'packet_len', 'len', 'snaplen'];

/** The decoder with its length field chosen: `field`, or the first conventional name it has. */
export function withLengthField<T extends StructDecoder>(d: T, field?: string | false): T {
  if (field === false) return d;
  const names = Object.keys(d.decode(new DataView(new ArrayBuffer(d.size)), 0));
  const chosen = field ?? LENGTH_FIELDS.find((n) => names.includes(n));
  if (field !== undefined && !names.includes(field)) return d;
  return chosen ? Object.assign(Object.create(Object.getPrototypeOf(d)), d, { lengthField: chosen, decode: d.decode.bind(d) }) : d;
}
