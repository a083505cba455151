/**
 * A program from raw instruction bytes, runnable in either mode (interpreter or compiled) without an
 * object file: for tests and fuzzing of the runtime itself. It has its own address space with a stack
 * (region 1), a packet (region 2) and a tc context (region 3); helpers are linked as in a Runtime,
 * maps are not (ld_imm64 takes constants only). Faults read as they do from Runtime: `program 'NAME'
 * instruction N: ...`.
 */
import { RuntimeFault } from '../errors.js';
import { decode } from './insn.js';
import { helper } from './helpers.js';
import { interpret, MAX_CALL_DEPTH, STACK_SIZE, type Linked } from './interpreter.js';
import { compile, type Compiled } from './compiler.js';
import { Memory, type Region } from './memory.js';
import { SkbContext } from './skb.js';
import { RunClock } from './clock.js';
import { xorshift32, type RunEnv } from './env.js';

export interface RawOptions {
  mode?: 'compiled' | 'interpreter';
  /** Program name in fault messages (default 'raw'). */
  name?: string;
  /** Seed of bpf_get_prandom_u32, reset before every run (default 1). */
  seed?: number;
  /** bpf_ktime_get_ns (default 1000). */
  nowNs?: bigint;
}

export interface RawRunOptions {
  /** The frame behind the tc context (default: empty). */
  packet?: Uint8Array;
  /** r1 at entry (default: the tc context's address). */
  r1?: bigint;
}

export class RawProgram {
  readonly mem = new Memory();
  readonly stack: Region;
  readonly skb: SkbContext;
  /** bpf_trace_printk lines of the last run. */
  readonly traceLines: string[] = [];
  private readonly linked: Linked;
  private readonly compiled: Compiled | undefined;
  private readonly env: RunEnv;
  private rng = 1;

  constructor(instructions: Uint8Array, private readonly o: RawOptions = {}) {
    const name = o.name ?? 'raw';
    this.stack = this.mem.add('stack', new Uint8Array(STACK_SIZE * MAX_CALL_DEPTH), true);
    this.skb = new SkbContext(this.mem);
    const code = decode({ name, instructions, mapRefs: [] });
    const helpers = new Array(code.count).fill(undefined);
    for (let i = 0; i < code.count; i++) {
      if (code.op[i] === 0x85 && code.src[i] === 0) helpers[i] = helper(code.imm[i]!, `program '${name}' instruction ${i}`);
    }
    this.linked = { code, imm64: code.imm64.slice(), helpers, name };
    this.compiled = o.mode === 'interpreter' ? undefined : compile(this.linked);
    this.env = {
      mem: this.mem,
      mapAt: () => undefined,
      cpu: 0,
      clock: new RunClock(),
      random: () => (this.rng = xorshift32(this.rng)),
      trace: (l) => this.traceLines.push(l),
      packet: undefined,
      ctx: undefined,
    };
  }

  /** The address r1 holds at entry by default. */
  get ctxAddress(): bigint {
    return Memory.address(this.skb.ctx);
  }

  /** Run once (the stack keeps what earlier runs left in it); returns r0 or throws the RuntimeFault. */
  run(o: RawRunOptions = {}): bigint {
    this.skb.fill(o.packet ?? new Uint8Array(0), {});
    this.traceLines.length = 0;
    this.rng = (this.o.seed ?? 1) >>> 0 || 1;
    const env = this.env;
    env.clock.begin(this.o.nowNs ?? 1000n);
    env.packet = this.skb.packet;
    env.ctx = this.skb.ctx;
    const r1 = o.r1 ?? this.ctxAddress;
    try {
      return this.compiled ? this.compiled(env, this.stack, r1) : interpret(this.linked, env, this.stack, r1);
    } catch (err) {
      if (err instanceof RuntimeFault && !err.message.startsWith('program ')) throw new RuntimeFault(`program '${this.linked.name}' ${err.message}`, { insn: err.insn, cause: err });
      throw err;
    } finally {
      env.packet = env.ctx = undefined;
    }
  }
}

/** Decode (and in compiled mode compile) raw instruction bytes (8 bytes each, little endian). */
export function loadRaw(instructions: Uint8Array, o: RawOptions = {}): RawProgram {
  return new RawProgram(instructions, o);
}

/** One instruction's 8 bytes (the second half of ld_imm64 is its own `insn(0, 0, 0, 0, hi)`). */
export function insn(op: number, dst: number, src: number, off: number, imm: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, op);
  v.setUint8(1, (dst & 0xf) | ((src & 0xf) << 4));
  v.setInt16(2, off, true);
  v.setInt32(4, imm | 0, true);
  return b;
}

/** Instructions (each 8 bytes, or 16 for ld_imm64) joined into one program. */
export function assemble(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** ld_imm64 dst, value (two instruction slots). */
export function ldImm64(dst: number, value: bigint): Uint8Array {
  const v = BigInt.asUintN(64, value);
  return assemble([insn(0x18, dst, 0, 0, Number(v & 0xffffffffn) | 0), insn(0, 0, 0, 0, Number(v >> 32n) | 0)]);
}
