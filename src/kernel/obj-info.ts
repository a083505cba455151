/** BPF_OBJ_GET_INFO_BY_FD: the raw info of a map, program or link fd (decoders in info.ts). */
import { kernel } from '../sys/index.js';
import * as attr from './attr.js';

export function readObjInfo(fd: number, size: number): Uint8Array {
  const k = kernel();
  const mem = k.alloc(size);
  try {
    k.bpf(attr.Cmd.OBJ_GET_INFO_BY_FD, attr.objInfo(fd, mem.address, size));
    return mem.bytes.slice();
  } finally {
    k.free(mem);
  }
}
