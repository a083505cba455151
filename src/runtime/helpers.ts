/**
 * The helpers tc programs call, with the kernel's argument checks and return codes. A program that
 * calls any other helper is refused when it is loaded (NotSupportedError naming the helper).
 */
import { NotSupportedError, RuntimeFault } from '../errors.js';
import { Memory, type Region } from './memory.js';
import { E, type PerfEventArrayMap, type RingbufMap, type RuntimeMap } from './maps.js';
import type { RecordRing } from './record-ring.js';
import { MapType } from '../object/uapi.js';
import type { RunEnv } from './env.js';
import { setBytes } from './set-bytes.js';
import { joinU64, splitU64, splitHi } from '../u64.js';

export type HelperFn = (env: RunEnv, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint, pc: number) => bigint;

/**
 * A helper for the compiled path (helpers-pair.ts): the arguments as int32 halves (`aNl` low, `aNh` high), the result's
 * low half returned and its high half left in `env.mem.hi`. The same behaviour as the HelperFn it
 * stands for: anything but the common case goes through that HelperFn itself.
 */
export type PairHelperFn = (env: RunEnv, a1l: number, a1h: number, a2l: number, a2h: number, a3l: number, a3h: number, a4l: number, a4h: number, a5l: number, a5h: number, pc: number) => number;

const neg = (errno: number): bigint => BigInt.asUintN(64, BigInt(-errno));
const U32 = 0xffffffffn;
const BPF_F_CURRENT_CPU = 0xffffffff;
export const CTXLEN_MASK = 0xfffff; // of the high half of the flags
const EINVAL = neg(E.EINVAL);

/** The low 32 bits of `v` (u32); the high 32 bits (u32) in `hi32`. */
let hi32 = 0;
function lo32(v: bigint): number {
  const lo = splitU64(v);
  hi32 = splitHi >>> 0;
  return lo >>> 0;
}

function mapArg(env: RunEnv, addr: bigint, pc: number, helper: string): RuntimeMap {
  const m = env.mapAt(addr);
  if (!m) throw new RuntimeFault(`instruction ${pc}: ${helper} was given something that is not a map`, { insn: pc });
  return m;
}

// The kind of a map by its type, not `instanceof`: on an imported class binding (not a constant for
// the optimising compiler) instanceof is a generic lookup, a quarter of a perf output's time.
export const perfMap = (m: RuntimeMap | undefined): PerfEventArrayMap | undefined => (m !== undefined && m.spec.type === MapType.PERF_EVENT_ARRAY ? (m as PerfEventArrayMap) : undefined);
export const ringbufMap = (m: RuntimeMap | undefined): RingbufMap | undefined => (m !== undefined && m.spec.type === MapType.RINGBUF ? (m as RingbufMap) : undefined);

function key(env: RunEnv, m: RuntimeMap, addr: bigint, pc: number): Uint8Array {
  return env.mem.bytes(addr, m.spec.keySize, pc);
}

export function perfOutput(env: RunEnv, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint, pc: number): bigint {
  const m = perfMap(mapArg(env, r2, pc, 'bpf_perf_event_output'));
  if (m === undefined) return EINVAL;
  // flags: the low 32 bits the slot (or BPF_F_CURRENT_CPU), bits 32..51 the packet bytes to append
  const flagsLo = lo32(r3);
  const flagsHi = hi32;
  if ((flagsHi & ~CTXLEN_MASK) !== 0) return EINVAL;
  const metaL = lo32(r4);
  const metaH = hi32;
  lo32(r1);
  return neg(-perfTail(env, m, flagsLo, flagsHi, Number(r5), metaH, metaL, hi32, pc));
}

/**
 * Views of the first bytes of a frame, by frame and length: the same few (frame, length) pairs come
 * back run after run (no view per output), and a new frame per run costs one view, not a copy of the
 * frame into the packet region. Direct-mapped by length, so a cache of a few entries.
 */
const PREFIX_CACHE = 16;
const prefixOf: (Uint8Array | undefined)[] = new Array(PREFIX_CACHE).fill(undefined);
const prefixes: Uint8Array[] = new Array(PREFIX_CACHE).fill(new Uint8Array(0));
export function packetPrefix(bytes: Uint8Array, len: number): Uint8Array {
  const i = len & (PREFIX_CACHE - 1);
  const v = prefixes[i]!;
  if (prefixOf[i] === bytes && v.length === len) return v;
  prefixOf[i] = bytes;
  return (prefixes[i] = bytes.subarray(0, len));
}

/**
 * The rest of bpf_perf_event_output once the map and flags are checked: 0 or a negative errno. The
 * event (`size` bytes at metaH:metaL) is reached only once the output is certain to reach a ring: an
 * output that fails before (a slot no reader has open, the common case with nobody reading) reads
 * nothing, as in the kernel, whose verifier checked the pointer at load time; from there on a bad
 * pointer faults, full ring or not. `ctxH`: the high half of r1 (the context, for appended packet bytes).
 */
export function perfTail(env: RunEnv, m: PerfEventArrayMap, flagsLo: number, skbBytes: number, size: number, metaH: number, metaL: number, ctxH: number, pc: number): number {
  const pkt = env.packet;
  if (skbBytes > 0) {
    const ctx = env.mem.regionP(ctxH);
    if (ctx === undefined || ctx !== env.ctx || pkt === undefined) return -E.EINVAL;
    if (skbBytes > pkt.size) return -E.EFAULT;
  }
  const slot = flagsLo === BPF_F_CURRENT_CPU ? env.cpu : flagsLo;
  if (slot >= m.spec.maxEntries) return -E.E2BIG;
  // a slot without a reader has no perf event
  const ring = m.rings[slot];
  if (ring === undefined) return -E.ENOENT;
  // A slot's perf event lives on one CPU: slot k*ncpu + c is read on CPU c (channels).
  if (slot % m.ncpus !== env.cpu) return -E.EOPNOTSUPP;
  const meta = env.mem.bytesP(metaH, metaL, size, pc);
  // The raw sample is padded so that its u32 size plus the data is a multiple of 8.
  const raw = size + skbBytes;
  const padded = Math.ceil((raw + 4) / 8) * 8 - 4;
  if (!ring.room(padded + 12)) return -E.ENOSPC;
  let extra: Uint8Array | undefined;
  // (Region.src: the frame itself until a store copies it in; no copy for reading it)
  if (skbBytes > 0) extra = packetPrefix(pkt!.src, skbBytes);
  ring.write(env.clock, meta, extra, padded);
  return 0;
}

function ringbuf(env: RunEnv, addr: bigint, pc: number, helper: string): RingbufMap {
  const m = mapArg(env, addr, pc, helper);
  const rb = ringbufMap(m);
  if (rb === undefined) throw new RuntimeFault(`instruction ${pc}: ${helper} needs a ring buffer, map '${m.name}' is not one`, { insn: pc });
  return rb;
}

/** Ring buffer bytes a record of `size` takes: its 8-byte header, rounded up to 8. */
export function rbRecordBytes(size: number): number {
  return Math.ceil((size + 8) / 8) * 8;
}

function rbSubmit(env: RunEnv, addr: bigint, pc: number, discard: boolean): bigint {
  rbSubmitRegion(env, env.mem.region(addr), splitU64(addr) >>> 0, pc, discard);
  return 0n;
}

/** bpf_ringbuf_submit/discard of the record at offset `at` of region `r` (a reservation's start, or a fault). */
export function rbSubmitRegion(env: RunEnv, r: Region | undefined, at: number, pc: number, discard: boolean): void {
  // (a ring buffer record's owner is its ring buffer)
  const m = r !== undefined && r.kind === 'ringbuf record' ? ringbufMap(r.owner as RuntimeMap) : undefined;
  const ring = m !== undefined && at === r!.lo ? m.placedIn[r!.id] : undefined;
  if (ring === undefined) {
    throw new RuntimeFault(`instruction ${pc}: ring buffer ${discard ? 'discard' : 'submit'} of something that is not a reserved record`, { insn: pc });
  }
  const size = r!.size - r!.lo;
  endReservation(env, m!, r!);
  if (discard) ring.cancel(rbRecordBytes(size));
  else ring.commit(env.clock, r!.bytes, r!.lo, size);
}

/** The reservation `r` is over: it faults from now on; its region waits to back a later one. */
function endReservation(env: RunEnv, m: RingbufMap, r: Region): void {
  m.placedIn[r.id] = undefined;
  if (m.spare.length < 16) {
    env.mem.retire(r);
    m.spare.push(r);
  } else env.mem.release(r);
}

/**
 * bpf_ringbuf_reserve once the arguments are checked: the record, or undefined (no room). The record
 * is written in place, in the ring's slab (as the kernel's are in its ring buffer): its region is a
 * window of the slab, bytes [lo, lo + size), zeroed.
 */
export function rbReserve(env: RunEnv, m: RingbufMap, size: number): Region | undefined {
  const ring = m.ring;
  // Room is taken at reserve time, as in the kernel: a record that does not fit fails now.
  if (!ring.room(rbRecordBytes(size))) return undefined;
  if (ring.onAbandon === undefined) watchAbandon(env, m, ring);
  const pos = ring.place(size);
  let r = m.spare.pop();
  if (r !== undefined) env.mem.revive(r);
  else r = env.mem.add('ringbuf record', ring.slab, true, m, ring.view);
  if (r.bytes !== ring.slab) {
    r.bytes = r.src = ring.slab;
    r.view = ring.view;
  }
  r.lo = pos;
  r.size = pos + size;
  m.placedIn[r.id] = ring;
  return r;
}

/**
 * Have a drain of `ring` call abandon(). A function of its own: a closure in rbReserve would have V8
 * allocate its captured variables' context at every call of rbReserve, the failing ones included.
 */
function watchAbandon(env: RunEnv, m: RingbufMap, ring: RecordRing): void {
  ring.onAbandon = () => abandon(env, m, ring);
}

/**
 * A drain of `ring` while reservations placed in it are open (only a program that ends without
 * submitting or discarding one, which the kernel's verifier refuses): they are discarded and fault.
 */
function abandon(env: RunEnv, m: RingbufMap, ring: RecordRing): void {
  m.placedIn.forEach((placed, id) => {
    if (placed !== ring) return;
    const r = env.mem.regionP(id)!;
    const size = r.size - r.lo;
    endReservation(env, m, r);
    ring.cancel(rbRecordBytes(size));
  });
}

/** bpf_ringbuf_output once the map and flags are checked: 0 or a negative errno. */
export function rbOutput(env: RunEnv, m: RingbufMap, size: number, data: Uint8Array): number {
  const ring = m.ring;
  if (!ring.room(rbRecordBytes(size))) return -E.EAGAIN;
  ring.write(env.clock, data, undefined, data.length);
  return 0;
}

/** `len` bytes from `src` at `so` to `dst` at `d0` (different buffers), four at a time. */
export function copyView(src: DataView, so: number, dst: DataView, d0: number, len: number): void {
  let i = 0;
  for (; i + 4 <= len; i += 4) dst.setInt32(d0 + i, src.getInt32(so + i));
  for (; i < len; i++) dst.setUint8(d0 + i, src.getUint8(so + i));
}

/** bpf_skb_load_bytes once the destination is resolved: 0 or -EFAULT. */
export function skbLoadBytes(env: RunEnv, ctx: Region | undefined, off: number, to: Uint8Array, len: number): number {
  const pkt = env.packet;
  if (!pkt || ctx !== env.ctx || off < 0 || len === 0 || off + len > pkt.size) {
    to.fill(0);
    return -E.EFAULT;
  }
  // (the frame itself until a store copies it in; `to` may be the packet itself: set() copies as memmove)
  setBytes(to, pkt.src.subarray(off, off + len), 0);
  return 0;
}

/**
 * `len` bytes of `from` at `off` into `to` at `at`, which do not overlap (the caller knows: `to` is not
 * the packet's): a few byte by byte (set() is a call into the runtime), more with set(). (Not tested
 * here by comparing their `.buffer`s: that accessor is a call into C++, a few % of a run.)
 */
export function copyFrame(from: Uint8Array, off: number, to: Uint8Array, at: number, len: number): void {
  if (len <= 16) for (let i = 0; i < len; i++) to[at + i] = from[off + i]!;
  else setBytes(to, from.subarray(off, off + len), at);
}

export const lookupBig: HelperFn = (env, r1, r2, _r3, _r4, _r5, pc) => {
  const m = mapArg(env, r1, pc, 'bpf_map_lookup_elem');
  return m.lookupAddr(key(env, m, r2, pc), env.cpu);
};
export const updateBig: HelperFn = (env, r1, r2, r3, r4, _r5, pc) => {
  const m = mapArg(env, r1, pc, 'bpf_map_update_elem');
  return neg(-m.update(key(env, m, r2, pc), env.mem.bytes(r3, m.spec.valueSize, pc), Number(r4 & U32), env.cpu));
};
export const ktimeBig: HelperFn = (env) => {
  const c = env.clock;
  c.read();
  return joinU64(c.lo, c.hi);
};
export const ktimeBootBig: HelperFn = (env) => ktimeBig(env, 0n, 0n, 0n, 0n, 0n, 0);
export const prandomBig: HelperFn = (env) => BigInt(env.random() >>> 0);
export const cpuBig: HelperFn = (env) => BigInt(env.cpu);
export const skbLoadBytesBig: HelperFn = (env, r1, r2, r3, r4, _r5, pc) => {
  const len = lo32(r4);
  const to = env.mem.bytes(r3, len, pc, true);
  return neg(-skbLoadBytes(env, env.mem.region(r1), lo32(r2) | 0, to, len));
};
export const ringbufOutputBig: HelperFn = (env, r1, r2, r3, r4, _r5, pc) => {
  const m = ringbuf(env, r1, pc, 'bpf_ringbuf_output');
  if (r4 & ~3n) return EINVAL;
  const size = Number(r3);
  return neg(-rbOutput(env, m, size, env.mem.bytes(r2, size, pc)));
};
export const ringbufReserveBig: HelperFn = (env, r1, r2, r3, _r4, _r5, pc) => {
  const m = ringbuf(env, r1, pc, 'bpf_ringbuf_reserve');
  const size = Number(r2);
  if (r3 !== 0n || size > m.spec.maxEntries - 8) return 0n;
  const r = rbReserve(env, m, size);
  return r === undefined ? 0n : Memory.address(r, r.lo);
};
export const submitBig: HelperFn = (env, r1, _r2, _r3, _r4, _r5, pc) => rbSubmit(env, r1, pc, false);
export const discardBig: HelperFn = (env, r1, _r2, _r3, _r4, _r5, pc) => rbSubmit(env, r1, pc, true);

const helpers: Record<number, [string, HelperFn]> = {
  1: ['bpf_map_lookup_elem', lookupBig],
  2: ['bpf_map_update_elem', updateBig],
  3: ['bpf_map_delete_elem', (env, r1, r2, _r3, _r4, _r5, pc) => {
    const m = mapArg(env, r1, pc, 'bpf_map_delete_elem');
    return neg(-m.delete(key(env, m, r2, pc)));
  }],
  5: ['bpf_ktime_get_ns', ktimeBig],
  125: ['bpf_ktime_get_boot_ns', ktimeBootBig],
  6: ['bpf_trace_printk', (env, r1, r2, r3, r4, r5, pc) => {
    const fmt = env.mem.bytes(r1, Number(r2), pc);
    const text = Buffer.from(fmt).toString('latin1').replace(/\0.*$/s, '');
    const args = [r3, r4, r5];
    let k = 0;
    const line = text.replace(/%(l{0,2})([dusxcp%])/g, (all, _l: string, c: string) => {
      if (c === '%') return '%';
      const a = args[k++] ?? 0n;
      if (c === 'd') return BigInt.asIntN(_l.length === 2 || _l.length === 1 ? 64 : 32, a).toString();
      if (c === 'u') return BigInt.asUintN(_l.length ? 64 : 32, a).toString();
      if (c === 'x') return BigInt.asUintN(_l.length ? 64 : 32, a).toString(16);
      if (c === 'c') return String.fromCharCode(Number(a & 0xffn));
      return all;
    });
    env.trace(line.replace(/\n$/, ''));
    return BigInt(fmt.byteLength);
  }],
  7: ['bpf_get_prandom_u32', prandomBig],
  8: ['bpf_get_smp_processor_id', cpuBig],
  25: ['bpf_perf_event_output', perfOutput],
  26: ['bpf_skb_load_bytes', skbLoadBytesBig],
  130: ['bpf_ringbuf_output', ringbufOutputBig],
  131: ['bpf_ringbuf_reserve', ringbufReserveBig],
  132: ['bpf_ringbuf_submit', submitBig],
  133: ['bpf_ringbuf_discard', discardBig],
  134: ['bpf_ringbuf_query', (env, r1, r2, _r3, _r4, _r5, pc) => {
    const m = ringbuf(env, r1, pc, 'bpf_ringbuf_query');
    return r2 === 2n ? BigInt(m.spec.maxEntries) : 0n; // BPF_RB_RING_SIZE; positions are the reader's business
  }],
};

export function helper(id: number, where: string): HelperFn {
  const h = helpers[id];
  if (!h) throw new NotSupportedError(`${where} calls helper ${id}, which the userspace runtime does not support (supported: ${Object.values(helpers).map(([n]) => n).join(', ')})`);
  return h[1];
}

export function helperName(id: number): string {
  return helpers[id]?.[0] ?? `helper ${id}`;
}

// ---- The compiled path's helpers (PairHelperFn): no BigInt in the common case ----
