/** BPF_PROG_LOAD with the verifier log: load quietly, and on failure load again with a log that grows until it fits. */
import { kernel } from '../sys/index.js';
import { Errno, SyscallError, VerifierError, BpfpipeError } from '../errors.js';
import type { ProgramSpec } from '../object/types.js';
import { Pseudo } from '../object/uapi.js';
import * as attr from './attr.js';
import { classify } from './privileges.js';
import { diag } from '../diagnostics.js';

const INITIAL_LOG = 256 * 1024;
const MAX_LOG = 64 * 1024 * 1024;

export interface ProgLoadInput {
  spec: ProgramSpec;
  /** Map fd for each map name the program references. */
  mapFds: ReadonlyMap<string, number>;
  btfFd?: number;
  /** Verifier log level to use on the retry (1: the path that failed; 2: every instruction). */
  logLevel?: number;
}

/** Patch map references into a copy of the instructions. */
export function relocate(spec: ProgramSpec, mapFds: ReadonlyMap<string, number>): Uint8Array {
  const insns = spec.instructions.slice();
  const v = new DataView(insns.buffer);
  for (const ref of spec.mapRefs) {
    const fd = mapFds.get(ref.map);
    if (fd === undefined) throw new BpfpipeError('EBPF_BAD_OBJECT', `program '${spec.name}' references map '${ref.map}', which was not created`);
    const off = ref.insn * 8;
    const dst = insns[off + 1]! & 0x0f;
    insns[off + 1] = ((ref.kind === 'fd' ? Pseudo.MAP_FD : Pseudo.MAP_VALUE) << 4) | dst;
    v.setInt32(off + 4, fd, true);
    v.setInt32(off + 12, ref.kind === 'value' ? ref.offset : 0, true);
  }
  return insns;
}

function decodeLog(bytes: Uint8Array): string[] {
  const end = bytes.indexOf(0);
  return new TextDecoder()
    .decode(bytes.subarray(0, end < 0 ? bytes.byteLength : end))
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l, i, all) => l !== '' || i < all.length - 1);
}

/** Load one program; returns its fd. Throws VerifierError with the full log when the verifier refuses it. */
export function loadProgram(input: ProgLoadInput): number {
  if (!diag.programLoad.active) return load(input);
  const { spec } = input;
  const base = { name: spec.name, type: spec.type, insns: spec.instructions.byteLength / 8 };
  const t0 = performance.now();
  let fd: number;
  try {
    fd = load(input);
  } catch (err) {
    diag.programLoad.publish({ ...base, durationMs: performance.now() - t0, error: err as Error });
    throw err;
  }
  diag.programLoad.publish({ ...base, durationMs: performance.now() - t0, fd });
  return fd;
}

function load(input: ProgLoadInput): number {
  const { spec } = input;
  const k = kernel();
  const insns = relocate(spec, input.mapFds);
  const insnMem = k.alloc(insns.byteLength);
  insnMem.bytes.set(insns);
  const license = new TextEncoder().encode(spec.license || 'GPL');
  const licMem = k.alloc(license.byteLength + 1);
  licMem.bytes.set(license);
  const useBtf = input.btfFd !== undefined && input.btfFd > 0 && spec.funcInfo !== undefined;
  const funcMem = useBtf && spec.funcInfo ? k.alloc(spec.funcInfo.byteLength) : undefined;
  const lineMem = useBtf && spec.lineInfo ? k.alloc(spec.lineInfo.byteLength) : undefined;
  if (funcMem && spec.funcInfo) funcMem.bytes.set(spec.funcInfo);
  if (lineMem && spec.lineInfo) lineMem.bytes.set(spec.lineInfo);

  const build = (withBtf: boolean, logLevel: number, logBuf: bigint, logSize: number): Uint8Array =>
    attr.progLoad({
      type: spec.type,
      insns: insnMem.address,
      insnCount: insns.byteLength / 8,
      license: licMem.address,
      logLevel,
      logSize,
      logBuf,
      name: spec.name,
      expectedAttachType: spec.expectedAttachType,
      btfFd: withBtf ? input.btfFd : undefined,
      funcInfo: withBtf && funcMem ? { address: funcMem.address, count: funcMem.bytes.byteLength / 8, recSize: 8 } : undefined,
      lineInfo: withBtf && lineMem ? { address: lineMem.address, count: lineMem.bytes.byteLength / 16, recSize: 16 } : undefined,
    });

  const attempt = (withBtf: boolean): number => {
    for (let tries = 0; ; tries++) {
      try {
        return k.bpf(attr.Cmd.PROG_LOAD, build(withBtf, 0, 0n, 0));
      } catch (err) {
        if (err instanceof SyscallError && err.errno === Errno.EAGAIN && tries < 5) continue;
        throw err;
      }
    }
  };

  try {
    try {
      return attempt(useBtf);
    } catch (err) {
      if (!(err instanceof SyscallError)) throw err;
      if (err.errno === Errno.EPERM) throw classify(err, 'prog', `loading program '${spec.name}'`);
      // Load again with a verifier log to report why.
      const log = verifierLog(k, (level, buf, size) => build(useBtf, level, buf, size), input.logLevel ?? 1);
      if ('fd' in log) return log.fd;
      if (useBtf && log.lines.some((l) => /func_info|line_info|BTF|btf/.test(l)) && !log.lines.some((l) => /^\d+: \(/.test(l))) {
        // The kernel refused our BTF info, not the program: load without it.
        return attempt(false);
      }
      if (log.lines.length > 0) throw new VerifierError(spec.name, log.lines, { errno: err.errno, cause: err });
      throw err;
    }
  } finally {
    k.free(insnMem);
    k.free(licMem);
    if (funcMem) k.free(funcMem);
    if (lineMem) k.free(lineMem);
  }
}

function verifierLog(
  k: ReturnType<typeof kernel>,
  build: (level: number, buf: bigint, size: number) => Uint8Array,
  level: number,
): { lines: string[] } | { fd: number } {
  let size = INITIAL_LOG;
  for (;;) {
    const mem = k.alloc(size);
    try {
      const a = build(level, mem.address, size);
      try {
        // It loaded this time (the first failure was transient).
        return { fd: k.bpf(attr.Cmd.PROG_LOAD, a) };
      } catch (err) {
        if (!(err instanceof SyscallError)) throw err;
        const trueSize = new DataView(a.buffer).getUint32(attr.PROG_LOAD_LOG_TRUE_SIZE, true);
        if (err.errno === Errno.ENOSPC && size < MAX_LOG) {
          // The log did not fit: the kernel tells how much it needed (>= 6.4); else double.
          size = Math.min(MAX_LOG, Math.max(size * 2, trueSize + 1));
          continue;
        }
        return { lines: decodeLog(mem.bytes) };
      }
    } finally {
      k.free(mem);
    }
  }
}
