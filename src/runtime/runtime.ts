/**
 * Runtime: the same compiled object, run in user space. Programs run over packets (a tc context per
 * run), maps behave as the kernel's, and perf event array / ring buffer outputs reach readers with
 * the same shape as the kernel's event readers.
 *
 *   const rt = Runtime.load(fs.readFileSync('prog.o'));
 *   await using events = rt.openEvents('events', { struct: true });
 *   rt.program('emit').run(packet, { tsNs });
 */
import { NotSupportedError, RuntimeFault, UsageError } from '../errors.js';
import { ObjectSpec } from '../object/object-spec.js';
import { MapType, ProgType, progTypeName } from '../object/uapi.js';
import { compileDecoder } from '../btf/decoder.js';
import { structDecoder } from '../ring/events.js';
import { withLengthField } from '../ring/struct-decoder.js';
import type { ProgramSpec } from '../object/types.js';
import { decode } from './insn.js';
import { helper } from './helpers.js';
import { interpret, MAX_CALL_DEPTH, STACK_SIZE, type Linked } from './interpreter.js';
import { compile, type Compiled } from './compiler.js';
import { Memory, type Region } from './memory.js';
import { createMap, globalRegion, type RuntimeMap } from './maps.js';
import { SkbContext, type SkbOptions } from './skb.js';
import { RuntimeReader } from './reader.js';
import { xorshift32, type RunEnv } from './env.js';
import { RunClock } from './clock.js';

export interface RuntimeOptions {
  /** Programs to prepare (default: every program of a supported type). */
  programs?: string[];
  /** 'compiled' (default): each program becomes one JavaScript function; 'interpreter': the reference. */
  mode?: 'compiled' | 'interpreter';
  /** Number of CPUs the maps and perf event arrays are sized for (default 1). */
  ncpus?: number;
  /** Seed of bpf_get_prandom_u32 (default 1). */
  seed?: number;
  /** Lines printed with bpf_trace_printk (default: kept in runtime.traceLines). */
  onTrace?: (line: string) => void;
}

export interface RunOptions extends SkbOptions {
  /**
   * bpf_ktime_get_ns and the output times of this run (e.g. the capture time); default: CLOCK_MONOTONIC,
   * read once per run when the program first needs it (a run is one instant, as on replay).
   */
  tsNs?: bigint;
  /** bpf_get_smp_processor_id during this run (default 0). */
  cpu?: number;
}

export interface RunResult {
  /** The program's return value (tc: TC_ACT_*), as a signed 32-bit number. */
  retval: number;
}

export interface RuntimeEventsOptions {
  /** Perf event array: read channel K (slots K*ncpus .. K*ncpus+ncpus-1). */
  channel?: number;
  /** Perf event array: read these slots. Default: channel 0. */
  slots?: number[];
  /** Decode with a BTF struct: its name, or true for the one the object declares (BPFPIPE_EVENT_TYPE). */
  struct?: string | number | true;
  /** Bytes per ring before outputs fail (default: 4 MiB per perf slot; the ring buffer's own size). */
  ringBytes?: number;
}

const SUPPORTED_PROG_TYPES = new Set<number>([ProgType.SCHED_CLS, ProgType.SCHED_ACT]);

export class RuntimeProgram {
  /** @internal */
  constructor(
    readonly name: string,
    readonly spec: ProgramSpec,
    private readonly rt: Runtime,
    private readonly linked: Linked,
    private readonly compiled: Compiled | undefined,
  ) {}

  /** Run the program over one Ethernet frame. */
  run(packet: Uint8Array, o: RunOptions = {}): RunResult {
    return this.rt.execute(this.linked, this.compiled, packet, o);
  }
}

export class Runtime {
  readonly spec: ObjectSpec;
  readonly ncpus: number;
  readonly traceLines: string[] = [];
  private readonly mem = new Memory();
  private readonly maps = new Map<string, RuntimeMap>();
  private readonly byHandle = new Map<number, RuntimeMap>();
  private readonly programs = new Map<string, RuntimeProgram>();
  private readonly readers = new Set<RuntimeReader>();
  private readonly stack: Region;
  private rng: number;
  private readonly onTrace: (line: string) => void;
  private readonly env: RunEnv;
  private readonly skb: SkbContext;
  private readonly unsupported = new Map<string, NotSupportedError>();
  /** bpf_ktime_get_ns of the current run: the capture time given, else the clock at first use. */
  private readonly clock = new RunClock();
  /** The context's address (r1 at entry): the same region every run. */
  private readonly ctxAddr: bigint;
  /** Its halves (the compiled path's r1). */
  private readonly ctxL: number;
  private readonly ctxH: number;

  private constructor(spec: ObjectSpec, o: RuntimeOptions) {
    this.spec = spec;
    this.ncpus = o.ncpus ?? 1;
    this.rng = (o.seed ?? 1) >>> 0 || 1;
    this.onTrace = o.onTrace ?? ((l) => this.traceLines.push(l));
    this.stack = this.mem.add('stack', new Uint8Array(STACK_SIZE * MAX_CALL_DEPTH), true);
    this.skb = new SkbContext(this.mem);
    for (const m of spec.maps) {
      let rm: RuntimeMap;
      try {
        rm = createMap(m, this.mem, this.ncpus);
      } catch (err) {
        // A map the runtime cannot hold is an error only for the programs that use it.
        if (err instanceof NotSupportedError) this.unsupported.set(m.name, err);
        else throw err;
        continue;
      }
      this.maps.set(m.name, rm);
      this.byHandle.set(rm.handle.id, rm);
    }
    // bpfpipe.h's NAME_meta maps hold the number of CPUs (channel demux), as the kernel loader writes.
    for (const m of spec.maps) {
      if (m.type !== MapType.PERF_EVENT_ARRAY && m.type !== MapType.RINGBUF) continue;
      const meta = this.maps.get(`${m.name}_meta`);
      if (meta && meta.spec.type === MapType.ARRAY && meta.spec.keySize === 4 && meta.spec.valueSize === 4) {
        meta.update(new Uint8Array(4), new Uint8Array(new Uint32Array([this.ncpus]).buffer), 0, 0);
      }
    }
    const mem = this.mem;
    const byHandle = this.byHandle;
    // the maps by handle region id, as an array (env.maps: the compiled path's helpers)
    const maxId = Math.max(0, ...byHandle.keys());
    const mapsById = Array.from({ length: maxId + 1 }, (_, id) => byHandle.get(id));
    this.env = {
      mem,
      // the id half without BigInt arithmetic (Memory.region splits through a typed array)
      mapAt: (addr) => {
        const r = mem.region(addr);
        return r !== undefined && r.kind === 'map' ? byHandle.get(r.id) : undefined;
      },
      maps: mapsById,
      cpu: 0,
      // the clock is read once per run, at its first use (outputs and bpf_ktime_get_ns of a run agree)
      clock: this.clock,
      random: () => this.random(),
      trace: (l) => this.onTrace(l),
      // the skb's regions, refilled for every run (SkbContext.fill)
      packet: this.skb.packet,
      ctx: this.skb.ctx,
    };
    this.ctxAddr = Memory.address(this.skb.ctx);
    this.ctxL = Number(BigInt.asIntN(32, this.ctxAddr));
    this.ctxH = Number(BigInt.asIntN(32, this.ctxAddr >> 32n));
    const wanted = o.programs;
    for (const p of spec.programs) {
      if (wanted && !wanted.includes(p.name)) continue;
      if (!SUPPORTED_PROG_TYPES.has(p.type)) {
        if (wanted) throw new NotSupportedError(`program '${p.name}' is a ${progTypeName(p.type)} program; the userspace runtime runs tc programs (sched_cls, sched_act)`);
        continue;
      }
      const linked = this.link(p);
      this.programs.set(p.name, new RuntimeProgram(p.name, p, this, linked, o.mode === 'interpreter' ? undefined : compile(linked)));
    }
    if (wanted) for (const n of wanted) if (!this.programs.has(n)) throw new UsageError(`no program '${n}' in the object (it has: ${spec.programs.map((p) => p.name).join(', ')})`);
  }

  /** Load an object (bytes or a parsed spec) into a new runtime. Pure: no kernel involved. */
  static load(object: Uint8Array | ObjectSpec, o: RuntimeOptions = {}): Runtime {
    return new Runtime(object instanceof ObjectSpec ? object : ObjectSpec.parse(object), o);
  }

  private random(): number {
    return (this.rng = xorshift32(this.rng));
  }

  private link(p: ProgramSpec): Linked {
    const code = decode(p);
    const imm64 = code.imm64.slice();
    const maps: (RuntimeMap | undefined)[] = new Array(code.count).fill(undefined);
    for (let i = 0; i < code.count; i++) {
      const ref = code.mapRef[i];
      if (!ref) continue;
      const m = this.maps.get(ref.map);
      const refused = this.unsupported.get(ref.map);
      if (refused) throw new NotSupportedError(`program '${p.name}' uses ${refused.message}`);
      if (!m) throw new NotSupportedError(`program '${p.name}' instruction ${i} refers to map '${ref.map}', which the object does not define`);
      imm64[i] = ref.kind === 'fd' ? Memory.address(m.handle) : Memory.address(globalRegion(m), ref.offset);
      if (ref.kind === 'fd') maps[i] = m;
    }
    const helpers = new Array(code.count).fill(undefined);
    for (let i = 0; i < code.count; i++) {
      if (code.op[i] === 0x85 && code.src[i] === 0) helpers[i] = helper(code.imm[i]!, `program '${p.name}' instruction ${i}`);
    }
    return { code, imm64, helpers, name: p.name, maps };
  }

  program(name: string): RuntimeProgram {
    const p = this.programs.get(name);
    if (!p) throw new UsageError(`no program '${name}' in the runtime (it has: ${[...this.programs.keys()].join(', ') || 'none'})`);
    return p;
  }

  map(name: string): RuntimeMap {
    const m = this.maps.get(name);
    if (!m) throw new UsageError(`no map '${name}' in the object (it has: ${[...this.maps.keys()].join(', ')})`);
    return m;
  }

  /** @internal */
  execute(linked: Linked, compiled: Compiled | undefined, packet: Uint8Array, o: RunOptions): RunResult {
    const cpu = o.cpu ?? 0;
    if (cpu >= this.ncpus) throw new UsageError(`cpu ${cpu} is not one of the runtime's ${this.ncpus} CPUs`);
    const skb = this.skb;
    skb.fill(packet, o);
    const env = this.env;
    env.cpu = cpu;
    this.clock.begin(o.tsNs);
    // (env.packet and env.ctx: the skb's regions, set once)
    try {
      // compiled: r0's low half as an int32 directly (no BigInt)
      const retval = compiled !== undefined ? compiled.entry(env, this.stack, this.ctxL, this.ctxH) : Number(BigInt.asIntN(32, interpret(linked, env, this.stack, this.ctxAddr)));
      return { retval };
    } catch (err) {
      if (err instanceof RuntimeFault && !err.message.startsWith('program ')) throw new RuntimeFault(`program '${linked.name}' ${err.message}`, { insn: err.insn, cause: err });
      throw err;
    }
  }

  /** Read a perf event array or ring buffer map of this runtime. */
  openEvents(mapName: string, o: RuntimeEventsOptions = {}): RuntimeReader {
    const m = this.map(mapName);
    let slots: number[] | undefined;
    let capacity: number;
    if (m.spec.type === MapType.PERF_EVENT_ARRAY) {
      if (o.channel !== undefined && o.slots) throw new UsageError('give either channel or slots, not both');
      slots = o.slots ?? Array.from({ length: this.ncpus }, (_, c) => (o.channel ?? 0) * this.ncpus + c);
      for (const s of slots) {
        if (s >= m.spec.maxEntries) throw new UsageError(`slot ${s} is outside map '${mapName}' (${m.spec.maxEntries} slots)`);
        for (const r of this.readers) if (r.map === m && r.hasSlot(s)) throw new UsageError(`slot ${s} of map '${mapName}' is already read by another reader`);
      }
      capacity = o.ringBytes ?? 4 << 20;
    } else if (m.spec.type === MapType.RINGBUF) {
      for (const r of this.readers) if (r.map === m) throw new UsageError(`ring buffer '${mapName}' is already read by another reader`);
      capacity = o.ringBytes ?? m.spec.maxEntries;
    } else {
      throw new UsageError(`map '${mapName}' is not a perf event array or a ring buffer`);
    }
    let decoder;
    if (o.struct !== undefined) {
      const btf = this.spec.btf;
      if (!btf) throw new UsageError(`the object has no BTF to decode '${String(o.struct)}' with`);
      if (o.struct === true) {
        const id = this.spec.eventType(mapName);
        if (id === undefined) throw new UsageError(`the object does not say which struct map '${mapName}' carries (BPFPIPE_EVENT_TYPE); name one with struct`);
        decoder = withLengthField(compileDecoder(btf, id));
      } else decoder = withLengthField(structDecoder(btf, o.struct));
    }
    const reader = new RuntimeReader(m, slots, capacity, decoder, (r) => this.readers.delete(r));
    this.readers.add(reader);
    return reader;
  }
}

export type { RuntimeMap };
