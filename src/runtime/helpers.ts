/**
 * The helpers tc programs call, with the kernel's argument checks and return codes. A program that
 * calls any other helper is refused when it is loaded (NotSupportedError naming the helper).
 */
import { NotSupportedError, RuntimeFault } from '../errors.js';
import { Memory } from './memory.js';
import { E, PerfEventArrayMap, RingbufMap, type RuntimeMap } from './maps.js';
import type { RunEnv } from './env.js';

export type HelperFn = (env: RunEnv, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint, pc: number) => bigint;

const neg = (errno: number): bigint => BigInt.asUintN(64, BigInt(-errno));
const U32 = 0xffffffffn;
const BPF_F_CURRENT_CPU = 0xffffffff;
const CTXLEN_MASK = 0xfffff; // of the high half of the flags
const EINVAL = neg(E.EINVAL);
const EFAULT = neg(E.EFAULT);
const E2BIG = neg(E.E2BIG);
const ENOENT = neg(E.ENOENT);
const EOPNOTSUPP = neg(E.EOPNOTSUPP);
const ENOSPC = neg(E.ENOSPC);
const EAGAIN = neg(E.EAGAIN);

/** A u64 BigInt's halves through a typed array: no BigInt arithmetic (allocations). */
const S64 = new BigUint64Array(1);
const S32 = new Uint32Array(S64.buffer);
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO = LE ? 0 : 1;
const HI = LE ? 1 : 0;
/** The low 32 bits of `v` (u32); the high 32 bits in `hi32`. */
let hi32 = 0;
function lo32(v: bigint): number {
  S64[0] = v;
  hi32 = S32[HI]!;
  return S32[LO]!;
}

function mapArg(env: RunEnv, addr: bigint, pc: number, helper: string): RuntimeMap {
  const m = env.mapAt(addr);
  if (!m) throw new RuntimeFault(`instruction ${pc}: ${helper} was given something that is not a map`, { insn: pc });
  return m;
}

function key(env: RunEnv, m: RuntimeMap, addr: bigint, pc: number): Uint8Array {
  return env.mem.bytes(addr, m.spec.keySize, pc);
}

function perfOutput(env: RunEnv, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint, pc: number): bigint {
  const m = mapArg(env, r2, pc, 'bpf_perf_event_output');
  if (!(m instanceof PerfEventArrayMap)) return EINVAL;
  // flags: the low 32 bits the slot (or BPF_F_CURRENT_CPU), bits 32..51 the packet bytes to append
  const flagsLo = lo32(r3);
  const flagsHi = hi32;
  if ((flagsHi & ~CTXLEN_MASK) !== 0) return EINVAL;
  const skbBytes = flagsHi;
  const size = Number(r5);
  const meta = env.mem.bytes(r4, size, pc);
  let extra: Uint8Array | undefined;
  if (skbBytes > 0) {
    const ctx = env.mem.region(r1);
    if (!ctx || ctx !== env.ctx || !env.packet) return EINVAL;
    if (skbBytes > env.packet.size) return EFAULT;
    extra = env.packet.bytes.subarray(0, skbBytes);
  }
  const slot = flagsLo === BPF_F_CURRENT_CPU ? env.cpu : flagsLo;
  if (slot >= m.spec.maxEntries) return E2BIG;
  const sink = env.sink;
  if (!sink.slotOpen(m, slot)) return ENOENT;
  // A slot's perf event lives on one CPU: slot k*ncpu + c is read on CPU c (channels).
  if (slot % m.ncpus !== env.cpu) return EOPNOTSUPP;
  // The raw sample is padded so that its u32 size plus the data is a multiple of 8.
  const raw = size + skbBytes;
  const padded = Math.ceil((raw + 4) / 8) * 8 - 4;
  if (sink.output !== undefined) return sink.output(m, env.cpu, slot, env.now(), meta, extra, padded, padded + 12) ? 0n : ENOSPC;
  const data = new Uint8Array(padded);
  data.set(meta, 0);
  if (extra) data.set(extra, size);
  return sink.push(m, { cpu: env.cpu, slot, data, ts: env.now() }, padded + 12) ? 0n : ENOSPC;
}

function ringbuf(env: RunEnv, addr: bigint, pc: number, helper: string): RingbufMap {
  const m = mapArg(env, addr, pc, helper);
  if (!(m instanceof RingbufMap)) throw new RuntimeFault(`instruction ${pc}: ${helper} needs a ring buffer, map '${m.name}' is not one`, { insn: pc });
  return m;
}

function rbRecordBytes(size: number): number {
  return Math.ceil((size + 8) / 8) * 8;
}

function rbSubmit(env: RunEnv, addr: bigint, pc: number, discard: boolean): bigint {
  const r = env.mem.region(addr);
  const m = r?.owner;
  if (!r || r.kind !== 'ringbuf record' || !(m instanceof RingbufMap) || !m.reservations.has(r.id)) {
    throw new RuntimeFault(`instruction ${pc}: ring buffer ${discard ? 'discard' : 'submit'} of something that is not a reserved record`, { insn: pc });
  }
  m.reservations.delete(r.id);
  env.mem.release(r);
  const sink = env.sink;
  const bytes = rbRecordBytes(r.bytes.byteLength);
  if (sink.commitData !== undefined) {
    // the reader copies the record: its bytes can back a later reservation
    sink.commitData(m, env.cpu, discard ? 0n : env.now(), discard ? undefined : r.bytes, bytes);
    const size = r.bytes.byteLength;
    let list = m.spare.get(size);
    if (list === undefined) m.spare.set(size, (list = []));
    if (list.length < 16) list.push({ bytes: r.bytes, view: r.view });
  } else sink.commit(m, discard ? undefined : { cpu: env.cpu, slot: undefined, data: r.bytes.slice(), ts: env.now() }, bytes);
  return 0n;
}

const helpers: Record<number, [string, HelperFn]> = {
  1: ['bpf_map_lookup_elem', (env, r1, r2, _r3, _r4, _r5, pc) => {
    const m = mapArg(env, r1, pc, 'bpf_map_lookup_elem');
    return m.lookupAddr(key(env, m, r2, pc), env.cpu);
  }],
  2: ['bpf_map_update_elem', (env, r1, r2, r3, r4, _r5, pc) => {
    const m = mapArg(env, r1, pc, 'bpf_map_update_elem');
    return neg(-m.update(key(env, m, r2, pc), env.mem.bytes(r3, m.spec.valueSize, pc), Number(r4 & U32), env.cpu));
  }],
  3: ['bpf_map_delete_elem', (env, r1, r2, _r3, _r4, _r5, pc) => {
    const m = mapArg(env, r1, pc, 'bpf_map_delete_elem');
    return neg(-m.delete(key(env, m, r2, pc)));
  }],
  5: ['bpf_ktime_get_ns', (env) => env.now()],
  125: ['bpf_ktime_get_boot_ns', (env) => env.now()],
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
  7: ['bpf_get_prandom_u32', (env) => BigInt(env.random() >>> 0)],
  8: ['bpf_get_smp_processor_id', (env) => BigInt(env.cpu)],
  25: ['bpf_perf_event_output', perfOutput],
  26: ['bpf_skb_load_bytes', (env, r1, r2, r3, r4, _r5, pc) => {
    const len = lo32(r4);
    const to = env.mem.bytes(r3, len, pc, true);
    const off = lo32(r2) | 0;
    const pkt = env.packet;
    if (!pkt || env.mem.region(r1) !== env.ctx || off < 0 || len === 0 || off + len > pkt.size) {
      to.fill(0);
      return EFAULT;
    }
    const from = pkt.bytes;
    if (len <= 16 && to.buffer !== from.buffer) for (let i = 0; i < len; i++) to[i] = from[off + i]!;
    else to.set(from.subarray(off, off + len));
    return 0n;
  }],
  130: ['bpf_ringbuf_output', (env, r1, r2, r3, r4, _r5, pc) => {
    const m = ringbuf(env, r1, pc, 'bpf_ringbuf_output');
    if (r4 & ~3n) return EINVAL;
    const size = Number(r3);
    const sink = env.sink;
    if (sink.output !== undefined) {
      const data = env.mem.bytes(r2, size, pc);
      return sink.output(m, env.cpu, undefined, env.now(), data, undefined, data.byteLength, rbRecordBytes(size)) ? 0n : EAGAIN;
    }
    const data = env.mem.bytes(r2, size, pc).slice();
    return sink.push(m, { cpu: env.cpu, slot: undefined, data, ts: env.now() }, rbRecordBytes(size)) ? 0n : EAGAIN;
  }],
  131: ['bpf_ringbuf_reserve', (env, r1, r2, r3, _r4, _r5, pc) => {
    const m = ringbuf(env, r1, pc, 'bpf_ringbuf_reserve');
    const size = Number(r2);
    if (r3 !== 0n || size > m.spec.maxEntries - 8) return 0n;
    // Room is taken at reserve time, as in the kernel: a record that does not fit fails now.
    if (!env.sink.reserve(m, rbRecordBytes(size))) return 0n;
    // a released record's bytes (nothing reaches them any more: the region faults), zeroed as new ones
    const spare = m.spare.get(size)?.pop();
    if (spare !== undefined) spare.bytes.fill(0);
    const r = spare !== undefined ? env.mem.add('ringbuf record', spare.bytes, true, m, spare.view) : env.mem.add('ringbuf record', new Uint8Array(size), true, m);
    m.reservations.set(r.id, r);
    return Memory.address(r);
  }],
  132: ['bpf_ringbuf_submit', (env, r1, _r2, _r3, _r4, _r5, pc) => rbSubmit(env, r1, pc, false)],
  133: ['bpf_ringbuf_discard', (env, r1, _r2, _r3, _r4, _r5, pc) => rbSubmit(env, r1, pc, true)],
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
