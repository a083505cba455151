/** Decoders for bpf_map_info, bpf_prog_info and bpf_link_info (BPF_OBJ_GET_INFO_BY_FD). */

export const MAP_INFO_SIZE = 88;
export const PROG_INFO_SIZE = 232;
export const LINK_INFO_SIZE = 64;

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
}

export interface ProgInfo {
  type: number;
  id: number;
  tag: string;
  name: string;
  mapIdsCount: number;
  btfId: number;
  loadTimeNs: bigint;
  createdByUid: number;
  gplCompatible: boolean;
  runTimeNs: bigint;
  runCount: bigint;
  verifiedInsns: number;
}

export interface LinkInfo {
  type: number;
  id: number;
  progId: number;
  /** tcx links: interface and attach type. */
  ifindex: number;
  attachType: number;
}

function cstr(bytes: Uint8Array, offset: number, max: number): string {
  let end = offset;
  while (end < offset + max && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(offset, end));
}

export function decodeMapInfo(b: Uint8Array): MapInfo {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    keySize: v.getUint32(8, true),
    valueSize: v.getUint32(12, true),
    maxEntries: v.getUint32(16, true),
    flags: v.getUint32(20, true),
    name: cstr(b, 24, 16),
    btfId: v.getUint32(64, true),
    btfKeyTypeId: v.getUint32(68, true),
    btfValueTypeId: v.getUint32(72, true),
  };
}

export function decodeProgInfo(b: Uint8Array): ProgInfo {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let tag = '';
  for (let i = 0; i < 8; i++) tag += b[8 + i]!.toString(16).padStart(2, '0');
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    tag,
    loadTimeNs: v.getBigUint64(40, true),
    createdByUid: v.getUint32(48, true),
    mapIdsCount: v.getUint32(52, true),
    name: cstr(b, 64, 16),
    gplCompatible: (v.getUint32(84, true) & 1) === 1,
    btfId: v.getUint32(128, true),
    runTimeNs: v.getBigUint64(192, true),
    runCount: v.getBigUint64(200, true),
    verifiedInsns: v.getUint32(216, true),
  };
}

export function decodeLinkInfo(b: Uint8Array): LinkInfo {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    progId: v.getUint32(8, true),
    ifindex: v.getUint32(16, true),
    attachType: v.getUint32(20, true),
  };
}
