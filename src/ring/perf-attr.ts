/** struct perf_event_attr for a BPF output ring (include/uapi/linux/perf_event.h). Pure. */

export const PERF_TYPE_SOFTWARE = 1;
export const PERF_COUNT_SW_BPF_OUTPUT = 10;
export const PERF_SAMPLE_TIME = 1 << 2;
export const PERF_SAMPLE_RAW = 1 << 10;
export const PERF_FLAG_FD_CLOEXEC = 1 << 3;
export const PERF_ATTR_SIZE = 136; // PERF_ATTR_SIZE_VER8
export const CLOCK_MONOTONIC = 1;

export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
/** _IO('$', 5): the event's samples go into another event's ring (same CPU, same clock). */
export const PERF_EVENT_IOC_SET_OUTPUT = 0x2405;

/** perf_event_attr flag bits (the bitfield after read_format). */
const BIT_DISABLED = 0n;
const BIT_WATERMARK = 14n;
const BIT_USE_CLOCKID = 25n;

export interface BpfOutputAttr {
  /** Wake the reader after this many bytes (watermark) ... */
  wakeupBytes?: number;
  /** ... or after this many samples. */
  wakeupEvents?: number;
  /** Record a CLOCK_MONOTONIC timestamp in each sample. */
  timestamps: boolean;
  /** Open disabled (enable with PERF_EVENT_IOC_ENABLE once mapped). */
  disabled: boolean;
}

export function encodeBpfOutputAttr(a: BpfOutputAttr): Uint8Array {
  const bytes = new Uint8Array(PERF_ATTR_SIZE);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, PERF_TYPE_SOFTWARE, true);
  v.setUint32(4, PERF_ATTR_SIZE, true);
  v.setBigUint64(8, BigInt(PERF_COUNT_SW_BPF_OUTPUT), true);
  v.setBigUint64(16, 1n, true); // sample_period
  v.setBigUint64(24, BigInt(PERF_SAMPLE_RAW | (a.timestamps ? PERF_SAMPLE_TIME : 0)), true);
  let flags = 0n;
  if (a.disabled) flags |= 1n << BIT_DISABLED;
  if (a.wakeupBytes !== undefined) flags |= 1n << BIT_WATERMARK;
  if (a.timestamps) flags |= 1n << BIT_USE_CLOCKID;
  v.setBigUint64(40, flags, true);
  v.setUint32(48, a.wakeupBytes ?? a.wakeupEvents ?? 1, true);
  if (a.timestamps) v.setInt32(92, CLOCK_MONOTONIC, true);
  return bytes;
}
