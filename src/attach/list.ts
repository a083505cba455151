/**
 * listAttachments: every tc program on the interfaces of the calling thread's network namespace —
 * tcx links (BPF_PROG_QUERY with link ids) and cls_bpf filters on clsact hooks — with whether bpfpipe
 * attached it. detachAll: remove what bpfpipe attached to one interface (live attachments of this
 * process, "bpfpipe:" filters left by any process, persistent tcx links pinned by bpfpipe, and a clsact
 * qdisc bpfpipe created once it is empty), leaving everything else alone.
 */
import { Errno, SyscallError } from '../errors.js';
import { detachLink, linkInfo, queryTcx } from '../kernel/link.js';
import { openPinned } from '../kernel/pin.js';
import { openProgramById } from '../kernel/program.js';
import { ifaceIndex, kernel } from '../sys/index.js';
import { decodeLink, encodeLinkDump, ETH_P_ALL, clsactParent, isClsact, type Direction, type TcFilter } from '../netlink/index.js';
import { withRtnl, type Rtnl } from './rtnl.js';
import { isOurFilterName, listTcxPins, liveAttachments, netnsId, type LiveAttachment } from './state.js';
import { deleteFilter, dumpFilters, listQdiscs, onInterface, removeClsactIfOursAndEmpty } from './tc-ops.js';
import { removeTcxPin, tcxAttachType } from './tcx.js';
import type { AttachmentInfo, DetachOptions, ProgramRef } from './types.js';

const BOTH: readonly Direction[] = ['ingress', 'egress'];
const ENOLINK = 67; // errno of BPF_LINK_DETACH on some defunct links

function programRef(id: number, tag?: string): ProgramRef {
  if (id === 0) return { name: '', id, tag: tag ?? '' }; // a classic BPF filter has no program
  try {
    const p = openProgramById(id);
    try {
      return { name: p.name, id, tag: p.tag };
    } finally {
      p.close();
    }
  } catch {
    return { name: '', id, tag: tag ?? '' };
  }
}

function tcxEntries(iface: string, ifindex: number, directions: readonly Direction[], ns: string): AttachmentInfo[] {
  const mine = new Map(liveAttachments().filter((a) => a.mode === 'tcx' && a.netns === ns).map((a) => [a.linkId, a]));
  const pins = new Map(listTcxPins(ns).map((p) => [p.linkId, p.path]));
  const out: AttachmentInfo[] = [];
  for (const direction of directions) {
    let q;
    try {
      q = queryTcx(ifindex, tcxAttachType(direction));
    } catch (err) {
      // No tcx on this kernel (EINVAL), or the interface went away meanwhile.
      if (err instanceof SyscallError && (err.errno === Errno.EINVAL || err.errno === Errno.ENODEV || err.errno === Errno.EOPNOTSUPP)) continue;
      throw err;
    }
    q.progIds.forEach((progId, i) => {
      const linkId = q.linkIds[i] ?? 0;
      const live = linkId ? mine.get(linkId) : undefined;
      const pinPath = linkId ? pins.get(linkId) : undefined;
      out.push({
        iface, ifindex, direction, mode: 'tcx', program: programRef(progId), ours: live !== undefined || pinPath !== undefined, linkId,
        ...(pinPath ? { pinPath } : {}), ...(live ? { thisProcess: true } : {}),
      });
    });
  }
  return out;
}

function filterEntry(iface: string, direction: Direction, f: TcFilter): AttachmentInfo {
  return {
    iface, ifindex: f.ifindex, direction, mode: 'clsact', program: programRef(f.bpf?.id ?? 0, f.bpf?.tag), ours: isOurFilterName(f.bpf?.name),
    priority: f.priority, handle: f.handle, protocol: f.protocol, chain: f.chain, filterName: f.bpf?.name ?? '', directAction: f.bpf?.directAction ?? false,
  };
}

function clsactEntries(rtnl: Rtnl, iface: string, ifindex: number, directions: readonly Direction[]): AttachmentInfo[] {
  const out: AttachmentInfo[] = [];
  for (const direction of directions) {
    for (const f of dumpFilters(rtnl, ifindex, direction)) if (f.kind === 'bpf' && f.bpf) out.push(filterEntry(iface, direction, f));
  }
  return out;
}

export function listAttachmentsSync(iface?: string): AttachmentInfo[] {
  const ns = netnsId();
  return withRtnl((rtnl) => {
    const links = iface !== undefined
      ? [{ ifindex: ifaceIndex(iface), name: iface }]
      : rtnl.request((seq) => encodeLinkDump({ seq }), { dump: true, what: 'listing network interfaces' }).map(decodeLink);
    const withClsact = new Set(listQdiscs(rtnl).filter(isClsact).map((q) => q.ifindex));
    const out: AttachmentInfo[] = [];
    for (const l of links) {
      out.push(...tcxEntries(l.name, l.ifindex, BOTH, ns));
      if (withClsact.has(l.ifindex)) out.push(...onInterface(l.name, () => clsactEntries(rtnl, l.name, l.ifindex, BOTH)));
    }
    return out;
  });
}

/** Programs on the tc hooks of `iface` (or of every interface), ours and others'. */
export async function listAttachments(iface?: string): Promise<AttachmentInfo[]> {
  return listAttachmentsSync(iface);
}

export interface DetachResult {
  /** What was detached. */
  removed: AttachmentInfo[];
  /** A clsact qdisc that bpfpipe had created was removed too. */
  qdiscRemoved: boolean;
}

function liveInfo(a: LiveAttachment): AttachmentInfo {
  return a.mode === 'tcx'
    ? { iface: a.iface, ifindex: a.ifindex, direction: a.direction, mode: 'tcx', program: a.program, ours: true, linkId: a.linkId, thisProcess: true }
    : {
      iface: a.iface, ifindex: a.ifindex, direction: a.direction, mode: 'clsact', program: a.program, ours: true, priority: a.priority,
      handle: a.handle, protocol: ETH_P_ALL, filterName: a.filterName, directAction: true,
    };
}

export function detachAllSync(options: DetachOptions): DetachResult {
  const iface = options.iface;
  const ifindex = ifaceIndex(iface);
  const ns = netnsId();
  const directions = options.direction ? [options.direction] : BOTH;
  const removed: AttachmentInfo[] = [];

  // 1. This process's live attachments: close them (a persistent one stays attached; steps 2-3 remove it).
  for (const a of liveAttachments()) {
    if (a.netns !== ns || a.ifindex !== ifindex || !directions.includes(a.direction)) continue;
    const info = liveInfo(a);
    a.close();
    if (!a.persist) removed.push(info);
  }

  return withRtnl((rtnl) => {
    // 2. Filters named "bpfpipe:…", whoever left them (a crashed or killed bpfpipe, `bpfpipe attach`).
    for (const direction of directions) {
      for (const f of onInterface(iface, () => dumpFilters(rtnl, ifindex, direction))) {
        if (f.kind !== 'bpf' || !isOurFilterName(f.bpf?.name)) continue;
        const id = { ifindex, parent: clsactParent(direction), priority: f.priority, protocol: f.protocol, handle: f.handle, chain: f.chain };
        if (deleteFilter(rtnl, id, `the bpf filter '${f.bpf?.name}' on ${iface} ${direction}`)) removed.push(filterEntry(iface, direction, f));
      }
    }
    // 3. Persistent tcx links bpfpipe pinned for this interface.
    for (const pin of listTcxPins(ns)) {
      if (pin.ifindex !== ifindex || !directions.includes(pin.direction)) continue;
      let progId = 0;
      try {
        const { fd } = openPinned(pin.path);
        try {
          const info = linkInfo(fd);
          progId = info.progId;
          if (info.id === pin.linkId) detachLink(fd);
        } finally {
          kernel().close(fd);
        }
      } catch (err) {
        // A link that is already defunct (its interface went away) only needs its pin removed.
        if (!(err instanceof SyscallError && (err.errno === ENOLINK || err.errno === Errno.EINVAL || err.errno === Errno.ENOENT))) throw err;
      }
      removeTcxPin(pin.path);
      removed.push({ iface, ifindex, direction: pin.direction, mode: 'tcx', program: programRef(progId), ours: true, linkId: pin.linkId, pinPath: pin.path });
    }
    // 4. The clsact qdisc, if bpfpipe created it and nothing is left on it.
    const qdiscRemoved = removeClsactIfOursAndEmpty(rtnl, ns, ifindex, iface);
    return { removed, qdiscRemoved };
  });
}

/** Remove what bpfpipe attached to `iface` (one or both directions); see the file comment. */
export async function detachAll(options: DetachOptions): Promise<DetachResult> {
  return detachAllSync(options);
}
