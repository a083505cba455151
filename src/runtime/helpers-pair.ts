/**
 * The compiled path's forms of the helpers (PairHelperFn): arguments as int32 halves, the result's low
 * half returned and its high half left in env.mem.hi, so a call allocates no BigInt. Each does what the
 * BigInt helper of helpers.ts it stands for does, for the common case; anything else goes through that
 * helper itself (viaBig).
 */
import { E, type RuntimeMap } from './maps.js';
import type { RunEnv } from './env.js';
import { joinU64 } from '../u64.js';
import { setBytes } from './set-bytes.js';
import {
  CTXLEN_MASK, copyFrame, copyView, packetPrefix, cpuBig, discardBig, ktimeBig, ktimeBootBig, lookupBig, perfMap, perfOutput, perfTail, prandomBig, rbOutput, rbReserve,
  rbSubmitRegion, ringbufMap, ringbufOutputBig, ringbufReserveBig, skbLoadBytes, skbLoadBytesBig, submitBig, updateBig,
  type HelperFn, type PairHelperFn,
} from './helpers.js';

/** A u64 BigInt result as halves (high half in env.mem.hi). */
function ret(env: RunEnv, v: bigint): number {
  return env.mem.split(v);
}

/** A small result (0 or a negative errno, or a u32 as int32 when `u32`) as halves. */
function small(env: RunEnv, v: number): number {
  env.mem.hi = v < 0 ? -1 : 0;
  return v | 0;
}

/** The general case: the BigInt helper itself. */
function viaBig(f: HelperFn, env: RunEnv, a1l: number, a1h: number, a2l: number, a2h: number, a3l: number, a3h: number, a4l: number, a4h: number, a5l: number, a5h: number, pc: number): number {
  return ret(env, f(env, joinU64(a1l, a1h), joinU64(a2l, a2h), joinU64(a3l, a3h), joinU64(a4l, a4h), joinU64(a5l, a5h), pc));
}

/** The map whose handle the address `hi:*` is (as mapAt), when the environment has a table of them. */
function mapP(env: RunEnv, hi: number): RuntimeMap | undefined {
  const maps = env.maps;
  return maps !== undefined && hi >= 0 && hi < maps.length ? maps[hi] : undefined;
}

const lookupP: PairHelperFn = (env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc) => {
  const m = mapP(env, a1h);
  if (m === undefined) return viaBig(lookupBig, env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc);
  const l = m.lookupAtP(env.mem, a2h, a2l, env.cpu, pc);
  env.mem.hi = m.mem.hi;
  return l;
};

const updateP: PairHelperFn = (env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc) => {
  const m = mapP(env, a1h);
  if (m === undefined) return viaBig(updateBig, env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc);
  const mem = env.mem;
  const k = mem.bytesP(a2h, a2l, m.spec.keySize, pc);
  return small(env, m.update(k, mem.bytesP(a3h, a3l, m.spec.valueSize, pc), a4l >>> 0, env.cpu));
};

const ktimeP: PairHelperFn = (env) => {
  const c = env.clock;
  c.read();
  env.mem.hi = c.hi;
  return c.lo;
};
const prandomP: PairHelperFn = (env) => {
  const v = env.random() | 0;
  env.mem.hi = 0;
  return v;
};
const cpuP: PairHelperFn = (env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc) => {
  const c = env.cpu;
  if ((c | 0) !== c || c < 0) return viaBig(cpuBig, env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc);
  env.mem.hi = 0;
  return c;
};

const perfOutputP: PairHelperFn = (env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc) => {
  const mp = mapP(env, a2h);
  // a size of 2^32 or more: the general case (it faults)
  if (mp === undefined || a5h !== 0) return viaBig(perfOutput, env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc);
  const m = perfMap(mp);
  if (m === undefined) return small(env, -E.EINVAL);
  const flagsHi = a3h >>> 0;
  if ((flagsHi & ~CTXLEN_MASK) !== 0) return small(env, -E.EINVAL);
  return small(env, perfTail(env, m, a3l >>> 0, flagsHi, a5l >>> 0, a4h, a4l, a1h, pc));
};

const skbLoadBytesP: PairHelperFn = (env, _a1l, a1h, a2l, _a2h, a3l, a3h, a4l, _a4h, _a5l, _a5h, pc) => {
  const len = a4l >>> 0;
  const mem = env.mem;
  const pkt = env.packet;
  const dest = mem.regionP(a3h);
  const at = a3l >>> 0;
  const off = a2l | 0;
  // The common case without a view: in bounds on both sides, into another writable region (the
  // stack, a map value, a record), from the packet's bytes straight into the region's.
  const ctx = env.ctx;
  if (dest !== undefined && dest.writable && dest !== pkt && pkt !== undefined && ctx !== undefined && ctx.live && a1h === (ctx.id | 0) && len > 0 && at >= dest.lo && at + len <= dest.size && off >= 0 && off + len <= pkt.size) {
    // Region.src: the frame itself until a store copies it in (reading it needs no copy)
    const from = pkt.src;
    // from the start of the packet: one copy through a view kept by frame and length
    if (off === 0 && len > 16) setBytes(dest.bytes, packetPrefix(from, len), at);
    else if (from === pkt.bytes) copyView(pkt.view, off, dest.view, at, len);
    else copyFrame(from, off, dest.bytes, at, len);
    mem.hi = 0;
    return 0;
  }
  const to = env.mem.bytesP(a3h, a3l, len, pc, true);
  return small(env, skbLoadBytes(env, env.mem.regionP(a1h), a2l | 0, to, len));
};

const ringbufOutputP: PairHelperFn = (env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc) => {
  const m = ringbufMap(mapP(env, a1h));
  if (m === undefined || a3h !== 0) return viaBig(ringbufOutputBig, env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc);
  if ((a4l & ~3) !== 0 || a4h !== 0) return small(env, -E.EINVAL);
  const size = a3l >>> 0;
  return small(env, rbOutput(env, m, size, env.mem.bytesP(a2h, a2l, size, pc)));
};

const ringbufReserveP: PairHelperFn = (env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc) => {
  const m = ringbufMap(mapP(env, a1h));
  if (m === undefined || a2h !== 0) return viaBig(ringbufReserveBig, env, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h, pc);
  const size = a2l >>> 0;
  env.mem.hi = 0;
  if (a3l !== 0 || a3h !== 0 || size > m.spec.maxEntries - 8) return 0;
  const r = rbReserve(env, m, size);
  if (r === undefined) return 0;
  // Memory.address(r, r.lo): the region id in the high half, the offset in the low
  env.mem.hi = r.id | 0;
  return r.lo | 0;
};

const submitP: PairHelperFn = (env, a1l, a1h, _a2l, _a2h, _a3l, _a3h, _a4l, _a4h, _a5l, _a5h, pc) => {
  rbSubmitRegion(env, env.mem.regionP(a1h), a1l >>> 0, pc, false);
  env.mem.hi = 0;
  return 0;
};

const discardP: PairHelperFn = (env, a1l, a1h, _a2l, _a2h, _a3l, _a3h, _a4l, _a4h, _a5l, _a5h, pc) => {
  rbSubmitRegion(env, env.mem.regionP(a1h), a1l >>> 0, pc, true);
  env.mem.hi = 0;
  return 0;
};

const PAIR = new Map<HelperFn, PairHelperFn>([
  [lookupBig, lookupP],
  [updateBig, updateP],
  [ktimeBig, ktimeP],
  [ktimeBootBig, ktimeP],
  [prandomBig, prandomP],
  [cpuBig, cpuP],
  [perfOutput, perfOutputP],
  [skbLoadBytesBig, skbLoadBytesP],
  [ringbufOutputBig, ringbufOutputP],
  [ringbufReserveBig, ringbufReserveP],
  [submitBig, submitP],
  [discardBig, discardP],
]);

/** The compiled path's form of a helper this module defines (undefined for any other function). */
export function pairHelper(f: HelperFn): PairHelperFn | undefined {
  return PAIR.get(f);
}
