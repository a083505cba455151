/** What an EventReader is made of (assembled by openEvents): its rings, drop counters, decoder, timing. */
import type { PerfRing } from './perf-ring.js';
import type { RingbufRing } from './ringbuf-ring.js';
import type { StructDecoder } from './struct-decoder.js';

/** Where the NAME_drops counters of the rings come from (per ledger key: slot, or 0 for a ring buffer). */
export interface DropsSource {
  read(): Map<number, bigint>;
  close(): void;
}

export interface ReaderParts {
  kind: 'perf' | 'ringbuf';
  perfRings: PerfRing[];
  ringbuf: RingbufRing | undefined;
  /** Opens the ring of a CPU that came online later (perf), or undefined. */
  openCpu: ((cpu: number) => PerfRing | undefined) | undefined;
  drops: DropsSource | undefined;
  decoder: StructDecoder | undefined;
  flushMs: number;
  ordered: { windowMs: number } | undefined;
  /** Called once when the reader releases its rings: slots, claims, map fds. */
  release: () => void;
  signal: AbortSignal | undefined;
  /** Streaming batches own copies of their bytes (default: leased ring memory). */
  copyBatches?: boolean;
  /**
   * Perf rings' byte watermark (wakeupBytes): traffic that would not fill it within flushMs is too
   * slow to wake us in time, so the reader polls it (PollTimer: every tenth of flushMs, at least every
   * millisecond). Undefined: the kernel wakes us per event count (perf wakeupEvents) or adaptively
   * (ring buffers; polled only after a timer found data).
   */
  watermarkBytes?: number;
  /**
   * Perf rings with eager twins (perf-ring.ts), whose slots hold the watermark fds at the start: puts
   * the eager (true) or the watermark (false) fds of `rings` (the reader's, CPUs that came online later
   * included) into their slots. Undefined: no per-sample wake-ups.
   */
  setEager?: (eager: boolean, rings: readonly PerfRing[]) => void;
  /** A reader of bpfpipe's own (prime-reader.ts): publishes no diagnostics. */
  quiet?: boolean;
  /** The batch columns' first capacity (default: columnsFor() of the largest ring). */
  columns?: number;
}

/**
 * `p` with every field, in one order. The reader's hot paths read its parts: one hidden class for
 * every reader's parts keeps V8's feedback there valid for all readers, the primed ones included
 * (prime-reader.ts), however their callers spelled the object.
 */
export function fixedParts(p: ReaderParts): ReaderParts {
  return {
    kind: p.kind,
    perfRings: p.perfRings,
    ringbuf: p.ringbuf,
    openCpu: p.openCpu,
    drops: p.drops,
    decoder: p.decoder,
    flushMs: p.flushMs,
    ordered: p.ordered,
    release: p.release,
    signal: p.signal,
    copyBatches: p.copyBatches ?? false,
    watermarkBytes: p.watermarkBytes,
    setEager: p.setEager,
    quiet: p.quiet ?? false,
    columns: p.columns,
  };
}
