/**
 * The object spec: what a compiled eBPF object contains, parsed without any system call.
 * Produced by ObjectSpec.parse (src/object/object-spec.ts); consumed by the kernel loader
 * (src/kernel/) and the userspace runtime (src/runtime/).
 */
import type { Btf } from '../btf/btf.js';

/** How a program's section name is understood (libbpf and iproute2 conventions). */
export type ProgramKind = 'tc' | 'tcx' | 'classifier' | 'action' | 'xdp' | 'socket';

export interface ProgramSpec {
  /** Function symbol name (what `--prog` and `obj.program(name)` use). */
  readonly name: string;
  /** ELF section the function lives in (e.g. "tc", "tcx/ingress", "classifier"). */
  readonly section: string;
  readonly kind: ProgramKind;
  /** BPF_PROG_TYPE_* (see uapi.ts ProgType). */
  readonly type: number;
  /** BPF_TCX_INGRESS / BPF_TCX_EGRESS for tcx/* sections, else undefined. */
  readonly expectedAttachType: number | undefined;
  /** Direction named by the section ("tc/ingress", "tcx/egress"), if any. */
  readonly direction: 'ingress' | 'egress' | undefined;
  /**
   * Linked instructions, 8 bytes each, little-endian: the program's own function followed by every
   * BPF function it calls (directly or indirectly), with call immediates resolved to relative
   * offsets. ld_imm64 instructions listed in `mapRefs` still hold 0 in their map-fd immediate.
   */
  readonly instructions: Uint8Array;
  /** ld_imm64 instructions that refer to a map (fd) or into a map's value (global data). */
  readonly mapRefs: readonly MapRef[];
  /** Instruction index where each linked function starts: [0] is the program itself. */
  readonly functions: readonly { readonly name: string; readonly start: number }[];
  /** bpf_func_info records for the linked program (insn_off, type_id), when the object has BTF.ext. */
  readonly funcInfo: Uint8Array | undefined;
  /** bpf_line_info records (16 bytes each) for the linked program, when the object has BTF.ext. */
  readonly lineInfo: Uint8Array | undefined;
  readonly license: string;
}

export interface MapRef {
  /** Index (in 8-byte slots) of the first half of the ld_imm64 instruction. */
  readonly insn: number;
  /** Name of the referenced map (MapSpec.name). */
  readonly map: string;
  /** 'fd': BPF_PSEUDO_MAP_FD, the register gets the map; 'value': BPF_PSEUDO_MAP_VALUE + offset. */
  readonly kind: 'fd' | 'value';
  /** Byte offset into the map value for kind 'value'; 0 for 'fd'. */
  readonly offset: number;
}

/**
 * Pinning as the object asked for it:
 * - 'by_name': libbpf LIBBPF_PIN_BY_NAME (1) in a BTF map definition → `<pinDir>/<name>`
 * - 'global': iproute2 PIN_GLOBAL_NS (2) in a legacy `maps` section → `<pinDir>/<name>`
 * - 'object': iproute2 PIN_OBJECT_NS (1) in a legacy `maps` section → `<pinDir>/../<object>/<name>`
 */
export type Pinning = 'none' | 'by_name' | 'global' | 'object';

export interface MapSpec {
  /** Symbol name for .maps/maps entries; section name (".data", ".rodata", ".bss", ".rodata.str1.1") for global data. */
  readonly name: string;
  /** Where the definition came from. */
  readonly origin: 'btf' | 'legacy' | 'data';
  /** BPF_MAP_TYPE_* (see uapi.ts MapType). */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  /** As written in the object; 0 for a perf event array means "one per possible CPU" (the loader decides). */
  readonly maxEntries: number;
  readonly flags: number;
  readonly pinning: Pinning;
  /** BTF type ids of key and value (BTF maps and global data), when known. */
  readonly btfKeyTypeId: number | undefined;
  readonly btfValueTypeId: number | undefined;
  /** Initial contents of a global data map (.data/.rodata); zeros for .bss. */
  readonly data: Uint8Array | undefined;
  /** .rodata*: frozen after its contents are written. */
  readonly readonly: boolean;
  /** Inner map prototype of an array/hash of maps, when declared with __array(values, ...). */
  readonly innerMap: MapSpec | undefined;
}

export interface ObjectSpecShape {
  readonly programs: readonly ProgramSpec[];
  readonly maps: readonly MapSpec[];
  readonly license: string;
  /** Parsed BTF, when the object has a .BTF section. */
  readonly btf: Btf | undefined;
  /** BTF bytes fixed up for BPF_BTF_LOAD (DATASEC sizes/offsets filled in), when the object has BTF. */
  readonly btfBytes: Uint8Array | undefined;
}
