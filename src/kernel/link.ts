/**
 * BPF links for tc: create a tcx link (BPF_LINK_CREATE with BPF_TCX_INGRESS/EGRESS), read its info,
 * open one by id, force-detach it (BPF_LINK_DETACH), and list what is attached to a tcx hook
 * (BPF_PROG_QUERY with program and link ids). Errors are SyscallErrors with the errno; the attach
 * layer turns them into typed errors.
 */
import { kernel } from '../sys/index.js';
import { Errno, SyscallError } from '../errors.js';
import * as attr from './attr.js';
import { readObjInfo } from './obj-info.js';
import { decodeLinkInfo, LINK_INFO_SIZE, type LinkInfo } from './info.js';

/** enum bpf_link_type values bpfpipe looks at. */
export const LinkType = { TCX: 11, NETKIT: 13 } as const;

/** BPF_LINK_CREATE for a tcx hook; returns the link fd (appended after the hook's other programs). */
export function createTcxLink(progFd: number, ifindex: number, attachType: number): number {
  return kernel().bpf(attr.Cmd.LINK_CREATE, attr.linkCreateTcx({ progFd, ifindex, attachType }));
}

export function linkInfo(fd: number): LinkInfo {
  return decodeLinkInfo(readObjInfo(fd, LINK_INFO_SIZE));
}

/** A new fd for the link with this id (needs CAP_SYS_ADMIN). */
export function openLinkById(id: number): number {
  return kernel().bpf(attr.Cmd.LINK_GET_FD_BY_ID, attr.getById(id));
}

/** Detach the link from its hook now, whoever else holds it (fds and pins stay valid, defunct). */
export function detachLink(fd: number): void {
  kernel().bpf(attr.Cmd.LINK_DETACH, attr.linkDetach(fd));
}

export interface HookQuery {
  /** Program ids in run order. */
  progIds: number[];
  /** The link id of each program (0 when it was attached without a link). */
  linkIds: number[];
  revision: bigint;
}

/** BPF_PROG_QUERY on a tcx hook of `ifindex` (in the calling thread's network namespace). */
export function queryTcx(ifindex: number, attachType: number): HookQuery {
  const k = kernel();
  let room = 16;
  for (;;) {
    const progs = k.alloc(room * 4);
    const links = k.alloc(room * 4);
    try {
      const a = attr.progQuery({ ifindex, attachType, progIds: progs.address, count: room, linkIds: links.address });
      let tooSmall = false;
      try {
        k.bpf(attr.Cmd.PROG_QUERY, a);
      } catch (err) {
        if (!(err instanceof SyscallError && err.errno === Errno.ENOSPC)) throw err;
        tooSmall = true;
      }
      const v = new DataView(a.buffer);
      const count = v.getUint32(attr.PROG_QUERY_COUNT, true);
      if (tooSmall || count > room) {
        room = Math.max(count, room * 2);
        continue;
      }
      const pv = new DataView(progs.bytes.buffer, progs.bytes.byteOffset, room * 4);
      const lv = new DataView(links.bytes.buffer, links.bytes.byteOffset, room * 4);
      const progIds: number[] = [];
      const linkIds: number[] = [];
      for (let i = 0; i < count; i++) {
        progIds.push(pv.getUint32(i * 4, true));
        linkIds.push(lv.getUint32(i * 4, true));
      }
      return { progIds, linkIds, revision: v.getBigUint64(attr.PROG_QUERY_REVISION, true) };
    } finally {
      k.free(progs);
      k.free(links);
    }
  }
}
