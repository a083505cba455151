/**
 * bpf_attr encoders (include/uapi/linux/bpf.h), one function per command layout. Pure: they only
 * lay out bytes; pointers are addresses of native memory obtained from the Kernel.
 */

export const Cmd = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_TEST_RUN: 10,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
  BTF_LOAD: 18,
  MAP_FREEZE: 22,
  LINK_CREATE: 28,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
  LINK_DETACH: 34,
} as const;

class AttrWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  u32(offset: number, value: number): this {
    this.view.setUint32(offset, value >>> 0, true);
    return this;
  }

  i32(offset: number, value: number): this {
    this.view.setInt32(offset, value, true);
    return this;
  }

  u64(offset: number, value: bigint | number): this {
    this.view.setBigUint64(offset, BigInt(value), true);
    return this;
  }

  name(offset: number, name: string): this {
    this.bytes.set(objName(name), offset);
    return this;
  }
}

/** The kernel's object name: at most 15 bytes of [A-Za-z0-9_.], NUL-terminated. */
export function objName(name: string): Uint8Array {
  const out = new Uint8Array(16);
  let n = 0;
  for (const ch of name) {
    if (n >= 15) break;
    if (/^[A-Za-z0-9_.]$/.test(ch)) out[n++] = ch.charCodeAt(0);
  }
  return out;
}

export interface MapCreateAttr {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  innerMapFd?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  mapExtra?: bigint;
}

export function mapCreate(a: MapCreateAttr): Uint8Array {
  const w = new AttrWriter(72)
    .u32(0, a.type)
    .u32(4, a.keySize)
    .u32(8, a.valueSize)
    .u32(12, a.maxEntries)
    .u32(16, a.flags)
    .u32(20, a.innerMapFd ?? 0)
    .name(28, a.name);
  if (a.btfFd !== undefined && a.btfFd > 0) {
    w.u32(48, a.btfFd).u32(52, a.btfKeyTypeId ?? 0).u32(56, a.btfValueTypeId ?? 0);
  }
  if (a.mapExtra) w.u64(64, a.mapExtra);
  return w.bytes;
}

/** LOOKUP/UPDATE/DELETE/GET_NEXT_KEY/FREEZE: map_fd, key, value (or next_key), flags. */
export function mapElem(mapFd: number, key: bigint, value: bigint, flags = 0): Uint8Array {
  return new AttrWriter(32).u32(0, mapFd).u64(8, key).u64(16, value).u64(24, flags).bytes;
}

export interface ProgLoadAttr {
  type: number;
  insns: bigint;
  insnCount: number;
  license: bigint;
  logLevel: number;
  logSize: number;
  logBuf: bigint;
  name: string;
  expectedAttachType?: number;
  btfFd?: number;
  funcInfo?: { address: bigint; count: number; recSize: number };
  lineInfo?: { address: bigint; count: number; recSize: number };
  flags?: number;
}

/** Offset of log_true_size in the PROG_LOAD attr: the kernel writes the log size it needed there. */
export const PROG_LOAD_LOG_TRUE_SIZE = 140;

export function progLoad(a: ProgLoadAttr): Uint8Array {
  const w = new AttrWriter(144)
    .u32(0, a.type)
    .u32(4, a.insnCount)
    .u64(8, a.insns)
    .u64(16, a.license)
    .u32(24, a.logLevel)
    .u32(28, a.logSize)
    .u64(32, a.logBuf)
    .u32(44, a.flags ?? 0)
    .name(48, a.name)
    .u32(68, a.expectedAttachType ?? 0);
  if (a.btfFd !== undefined && a.btfFd > 0) {
    w.u32(72, a.btfFd);
    if (a.funcInfo) w.u32(76, a.funcInfo.recSize).u64(80, a.funcInfo.address).u32(88, a.funcInfo.count);
    if (a.lineInfo) w.u32(92, a.lineInfo.recSize).u64(96, a.lineInfo.address).u32(104, a.lineInfo.count);
  }
  return w.bytes;
}

export function objPin(path: bigint, fd: number, flags = 0): Uint8Array {
  return new AttrWriter(16).u64(0, path).u32(8, fd).u32(12, flags).bytes;
}

export const OBJ_GET_RDONLY = 1 << 3;
export const OBJ_GET_WRONLY = 1 << 4;

export interface TestRunAttr {
  progFd: number;
  dataIn: bigint;
  dataSizeIn: number;
  dataOut: bigint;
  dataSizeOut: number;
  repeat: number;
  ctxIn?: bigint;
  ctxSizeIn?: number;
  ctxOut?: bigint;
  ctxSizeOut?: number;
  flags?: number;
  cpu?: number;
}

export const TEST_RUN_RETVAL = 4;
export const TEST_RUN_DATA_SIZE_OUT = 12;
export const TEST_RUN_DURATION = 36;
export const TEST_RUN_CTX_SIZE_OUT = 44;
export const BPF_F_TEST_RUN_ON_CPU = 1 << 0;

export function testRun(a: TestRunAttr): Uint8Array {
  return new AttrWriter(80)
    .u32(0, a.progFd)
    .u32(8, a.dataSizeIn)
    .u32(12, a.dataSizeOut)
    .u64(16, a.dataIn)
    .u64(24, a.dataOut)
    .u32(32, a.repeat)
    .u32(40, a.ctxSizeIn ?? 0)
    .u32(44, a.ctxSizeOut ?? 0)
    .u64(48, a.ctxIn ?? 0n)
    .u64(56, a.ctxOut ?? 0n)
    .u32(64, a.flags ?? 0)
    .u32(68, a.cpu ?? 0).bytes;
}

export function objInfo(fd: number, info: bigint, infoLen: number): Uint8Array {
  return new AttrWriter(16).u32(0, fd).u32(4, infoLen).u64(8, info).bytes;
}

export function getById(id: number, openFlags = 0): Uint8Array {
  return new AttrWriter(12).u32(0, id).u32(8, openFlags).bytes;
}

export function getNextId(startId: number): Uint8Array {
  return new AttrWriter(12).u32(0, startId).bytes;
}

export const GET_NEXT_ID_OFFSET = 4;

export interface LinkCreateTcxAttr {
  progFd: number;
  ifindex: number;
  attachType: number;
  flags?: number;
  relativeFdOrId?: number;
  expectedRevision?: bigint;
}

export function linkCreateTcx(a: LinkCreateTcxAttr): Uint8Array {
  return new AttrWriter(32)
    .u32(0, a.progFd)
    .u32(4, a.ifindex)
    .u32(8, a.attachType)
    .u32(12, a.flags ?? 0)
    .u32(16, a.relativeFdOrId ?? 0)
    .u64(24, a.expectedRevision ?? 0n).bytes;
}

export function linkDetach(linkFd: number): Uint8Array {
  return new AttrWriter(4).u32(0, linkFd).bytes;
}

export interface ProgQueryAttr {
  ifindex: number;
  attachType: number;
  progIds: bigint;
  count: number;
  linkIds?: bigint;
}

export const PROG_QUERY_COUNT = 24;
export const PROG_QUERY_REVISION = 56;

export function progQuery(a: ProgQueryAttr): Uint8Array {
  return new AttrWriter(64)
    .u32(0, a.ifindex)
    .u32(4, a.attachType)
    .u64(16, a.progIds)
    .u32(24, a.count)
    .u64(40, a.linkIds ?? 0n).bytes;
}

export function btfLoad(btf: bigint, size: number, logBuf: bigint, logSize: number, logLevel: number): Uint8Array {
  return new AttrWriter(32).u64(0, btf).u64(8, logBuf).u32(16, size).u32(20, logSize).u32(24, logLevel).bytes;
}
