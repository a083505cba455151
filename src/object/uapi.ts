/** Kernel UAPI numbers (include/uapi/linux/bpf.h) shared by the loader, the kernel layer and the runtime. */

export const ProgType = {
  UNSPEC: 0,
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
} as const;

export const AttachType = {
  NONE: 0,
  XDP: 37,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
} as const;

export const MapType = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  QUEUE: 22,
  STACK: 23,
  RINGBUF: 27,
} as const;

const mapTypeNames = new Map<number, string>(Object.entries(MapType).map(([k, v]) => [v, k.toLowerCase()]));
const progTypeNames = new Map<number, string>(Object.entries(ProgType).map(([k, v]) => [v, k.toLowerCase()]));

export function mapTypeName(type: number): string {
  return mapTypeNames.get(type) ?? `map type ${type}`;
}

export function progTypeName(type: number): string {
  return progTypeNames.get(type) ?? `program type ${type}`;
}

/** Map flags (BPF_F_*) used by the loader. */
export const MapFlags = {
  NO_PREALLOC: 1 << 0,
  RDONLY_PROG: 1 << 7,
  MMAPABLE: 1 << 10,
} as const;

/** ld_imm64 source register values (BPF_PSEUDO_*). */
export const Pseudo = {
  MAP_FD: 1,
  MAP_VALUE: 2,
  BTF_ID: 3,
  FUNC: 4,
  MAP_IDX: 5,
  MAP_IDX_VALUE: 6,
  /** src_reg of a call instruction that calls a BPF function (imm = relative insn offset). */
  CALL: 1,
  KFUNC_CALL: 2,
} as const;

/** Helper function ids (enum bpf_func_id) that the project's programs and the runtime use. */
export const Helper = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  ktime_get_ns: 5,
  trace_printk: 6,
  get_prandom_u32: 7,
  get_smp_processor_id: 8,
  skb_store_bytes: 9,
  perf_event_output: 25,
  skb_load_bytes: 26,
  get_hash_recalc: 34,
  skb_event_output: 111,
  ktime_get_boot_ns: 125,
  ringbuf_output: 130,
  ringbuf_reserve: 131,
  ringbuf_submit: 132,
  ringbuf_discard: 133,
  ringbuf_query: 134,
} as const;

/** Flags of bpf_perf_event_output / bpf_ringbuf_*. */
export const BPF_F_INDEX_MASK = 0xffffffffn;
export const BPF_F_CURRENT_CPU = 0xffffffffn;
export const BPF_F_CTXLEN_MASK = 0xfffffn << 32n;
export const BPF_RB_NO_WAKEUP = 1n;
export const BPF_RB_FORCE_WAKEUP = 2n;

/** Map update flags. */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

/** tc actions (TC_ACT_*) and tcx return codes. */
export const TcAction = { UNSPEC: -1, OK: 0, RECLASSIFY: 1, SHOT: 2, PIPE: 3, STOLEN: 4, REDIRECT: 7 } as const;
