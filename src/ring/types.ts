/** What readers deliver: samples and loss notices, the same shape for perf rings, ring buffers and the runtime. */

export interface Sample {
  /** CPU of the ring (perf: the CPU the slot is bound to; ring buffer: 0 unless known). */
  cpu: number;
  /** Slot of the perf event array (perf rings); undefined for ring buffers. */
  slot?: number;
  /** Kernel timestamp (CLOCK_MONOTONIC ns, comparable to bpf_ktime_get_ns), when the ring records one. */
  ts?: bigint;
  /**
   * Raw bytes the program wrote. Perf rings: the kernel pads each sample to (4 + size) % 8 == 0, so up
   * to 7 zero bytes may follow what the program wrote. Ring buffers: exact.
   */
  data: Uint8Array;
  /** Decoded struct, when the reader was given a struct to decode. */
  event?: Record<string, unknown>;
  /** Bytes after the struct (the packet bytes appended through the upper 32 bits of the flags). */
  packet?: Uint8Array;
  lost?: undefined;
}

export interface Lost {
  cpu: number;
  slot?: number;
  /** Number of samples the kernel (or the program, through the NAME_drops counter) could not deliver. */
  lost: number;
  data?: undefined;
}

export type RingEvent = Sample | Lost;

export interface ReaderStats {
  received: number;
  lost: number;
  /** Bytes of sample data received. */
  bytes: number;
  /** Number of drains that found data. */
  batches: number;
  /** Wake-ups from the kernel (epoll) as opposed to timer flushes. */
  wakeups: number;
}
