/** Program: one loaded program fd, with BPF_PROG_TEST_RUN. Owns its fd. */
import { kernel } from '../sys/index.js';
import { ClosedError, Errno, SyscallError, UsageError, BadInputError } from '../errors.js';
import { progTypeName } from '../object/uapi.js';
import * as attr from './attr.js';
import { readObjInfo } from './obj-info.js';
import { decodeProgInfo, PROG_INFO_SIZE, type ProgInfo } from './info.js';
import { pinObject } from './pin.js';
import { withPrivilege } from './privileges.js';

export interface TestRunOptions {
  /** Packet bytes (tc/xdp/socket programs). */
  data: Uint8Array;
  /** Run the program this many times in the kernel (default 1). */
  repeat?: number;
  /** Context to pass in (e.g. struct __sk_buff bytes), when the program type supports it. */
  ctx?: Uint8Array;
  /** Room for the output packet (default: data length + 256). */
  dataOutSize?: number;
}

export interface TestRunResult {
  retval: number;
  /** Average run time per repeat, in ns, as measured by the kernel. */
  durationNs: number;
  dataOut: Uint8Array;
  ctxOut: Uint8Array | undefined;
}

export function programInfo(fd: number): ProgInfo {
  return decodeProgInfo(readObjInfo(fd, PROG_INFO_SIZE));
}

export class Program {
  readonly name: string;
  readonly type: number;
  readonly id: number;
  readonly tag: string;
  /** The object section the program came from, when it was loaded from an object. */
  readonly section: string | undefined;
  private _fd: number;

  constructor(fd: number, name?: string, section?: string) {
    let info: ProgInfo;
    try {
      info = programInfo(fd);
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.EINVAL) throw new BadInputError(`fd ${fd} is not a BPF program`, { cause: err });
      throw err;
    }
    this._fd = fd;
    this.name = name ?? info.name;
    this.type = info.type;
    this.id = info.id;
    this.tag = info.tag;
    this.section = section;
  }

  get fd(): number {
    if (this._fd < 0) throw new ClosedError(`program '${this.name}'`);
    return this._fd;
  }

  get closed(): boolean {
    return this._fd < 0;
  }

  get typeName(): string {
    return progTypeName(this.type);
  }

  info(): ProgInfo {
    return programInfo(this.fd);
  }

  /** Run the program in the kernel on `data` (BPF_PROG_TEST_RUN). */
  testRun(options: TestRunOptions): TestRunResult {
    const repeat = options.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1 || repeat > 0xffffffff) {
      throw new UsageError(`testRun: repeat must be an integer from 1 to 2^32-1, got ${repeat}`);
    }
    const k = kernel();
    const data = options.data;
    const outSize = options.dataOutSize ?? data.byteLength + 256;
    const dataIn = k.alloc(Math.max(data.byteLength, 1));
    const dataOut = k.alloc(Math.max(outSize, 1));
    const ctxIn = options.ctx ? k.alloc(options.ctx.byteLength) : undefined;
    const ctxOut = options.ctx ? k.alloc(options.ctx.byteLength) : undefined;
    try {
      dataIn.bytes.set(data);
      if (ctxIn && options.ctx) ctxIn.bytes.set(options.ctx);
      const a = attr.testRun({
        progFd: this.fd,
        dataIn: dataIn.address,
        dataSizeIn: data.byteLength,
        dataOut: dataOut.address,
        dataSizeOut: outSize,
        repeat,
        ctxIn: ctxIn?.address,
        ctxSizeIn: options.ctx?.byteLength,
        ctxOut: ctxOut?.address,
        ctxSizeOut: options.ctx?.byteLength,
      });
      withPrivilege('prog', `test run of program '${this.name}'`, () => k.bpf(attr.Cmd.PROG_TEST_RUN, a));
      const v = new DataView(a.buffer);
      const outLen = Math.min(v.getUint32(attr.TEST_RUN_DATA_SIZE_OUT, true), outSize);
      return {
        retval: v.getInt32(attr.TEST_RUN_RETVAL, true),
        durationNs: v.getUint32(attr.TEST_RUN_DURATION, true),
        dataOut: dataOut.bytes.slice(0, outLen),
        ctxOut: ctxOut ? ctxOut.bytes.slice(0, v.getUint32(attr.TEST_RUN_CTX_SIZE_OUT, true)) : undefined,
      };
    } finally {
      k.free(dataIn);
      k.free(dataOut);
      if (ctxIn) k.free(ctxIn);
      if (ctxOut) k.free(ctxOut);
    }
  }

  pin(path: string, options: { mode?: number; createdDirs?: string[] } = {}): void {
    pinObject(this.fd, path, `program '${this.name}'`, options.mode, options.createdDirs);
  }

  dup(): Program {
    return new Program(kernel().dup(this.fd), this.name, this.section);
  }

  close(): void {
    if (this._fd < 0) return;
    const fd = this._fd;
    this._fd = -1;
    kernel().close(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

export function openProgramById(id: number): Program {
  const fd = withPrivilege('prog', `opening program id ${id}`, () => kernel().bpf(attr.Cmd.PROG_GET_FD_BY_ID, attr.getById(id)));
  return new Program(fd);
}
