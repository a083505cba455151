/** What a running program sees besides its registers: memory, maps, the current packet, CPU, clock. */
import type { Memory, Region } from './memory.js';
import type { RuntimeMap } from './maps.js';
import type { RunClock } from './clock.js';

export interface RunEnv {
  readonly mem: Memory;
  /** The map behind a map handle address (ld_imm64 map fd). */
  mapAt(addr: bigint): RuntimeMap | undefined;
  /**
   * Optional, the same as mapAt() by the address's high half (the region id; mapAt ignores the
   * offset): maps[id] is the map whose handle is region id, undefined for any other region.
   */
  readonly maps?: readonly (RuntimeMap | undefined)[];
  cpu: number;
  /** bpf_ktime_get_ns: the capture time on replay, else CLOCK_MONOTONIC (read once per run). */
  readonly clock: RunClock;
  /** bpf_get_prandom_u32. */
  random(): number;
  /** bpf_trace_printk lines. */
  trace(line: string): void;
  /** The packet of the current run (tc context). */
  packet: Region | undefined;
  ctx: Region | undefined;
}

/** One step of xorshift32 (bpf_get_prandom_u32 here: deterministic for a seed). */
export function xorshift32(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}
