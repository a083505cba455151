/**
 * clsact qdisc and cls_bpf filter operations over an rtnetlink client: create the qdisc when it is
 * missing, add/get/delete one filter by its identity, dump the filters of a hook, and remove a
 * qdisc that bpfpipe created once no filter is left on it. "Gone" (the interface, the qdisc or the
 * filter disappeared) is an answer here, not an error.
 */
import { Errno, InterfaceError, NetlinkError } from '../errors.js';
import {
  CLSACT_HANDLE, clsactParent, decodeFilter, decodeQdisc, encodeBpfFilterAdd, encodeClsactAdd, encodeClsactDelete, encodeFilterDelete,
  encodeFilterDump, encodeFilterGet, encodeQdiscDump, isClsact, RTM_NEWTFILTER, type Direction, type FilterId, type TcFilter,
  type TcQdisc,
} from '../netlink/index.js';
import type { Rtnl } from './rtnl.js';
import { clsactMarked, markClsactCreated, unmarkClsact } from './state.js';

const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

/** Turn ENODEV into InterfaceError naming the interface. */
export function onInterface<T>(iface: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === Errno.ENODEV) {
      throw new InterfaceError(iface, `network interface '${iface}' does not exist (any more): ${err.message}`, { errno: err.errno, cause: err });
    }
    throw err;
  }
}

const gone = (err: unknown, ...errnos: number[]) => err instanceof NetlinkError && err.errno !== undefined && errnos.includes(err.errno);

export function listQdiscs(rtnl: Rtnl): TcQdisc[] {
  return rtnl.request((seq) => encodeQdiscDump({ seq }), { dump: true, what: 'listing qdiscs' }).map(decodeQdisc);
}

/** The qdisc at ffff: of `ifindex` (clsact, or an `ingress` qdisc in its place), if any. */
export function clsactOn(rtnl: Rtnl, ifindex: number): TcQdisc | undefined {
  return listQdiscs(rtnl).find((q) => q.ifindex === ifindex && q.handle === CLSACT_HANDLE);
}

/**
 * Make sure a clsact qdisc is on the interface. Returns true when this call created it (then a
 * marker records that bpfpipe did). An `ingress` qdisc in its place is refused.
 */
export function ensureClsact(rtnl: Rtnl, ns: string, ifindex: number, iface: string): boolean {
  try {
    onInterface(iface, () => rtnl.request((seq) => encodeClsactAdd({ ifindex, seq }), { dump: false, what: `adding the clsact qdisc on ${iface}` }));
    markClsactCreated(ns, ifindex, iface);
    return true;
  } catch (err) {
    if (!gone(err, Errno.EEXIST)) throw err;
  }
  const q = clsactOn(rtnl, ifindex);
  if (q && !isClsact(q)) {
    throw new NetlinkError(`cannot attach to ${iface}: its qdisc at ffff: is '${q.kind}', not clsact (remove it with 'tc qdisc del dev ${iface} ingress', or use mode 'tcx')`);
  }
  return false;
}

/** Add a direct-action bpf filter; returns it as the kernel echoed it (with priority and handle). */
export function addBpfFilter(
  rtnl: Rtnl,
  f: { ifindex: number; iface: string; direction: Direction; priority: number; handle: number; fd: number; name: string; programId: number },
): TcFilter {
  const parent = clsactParent(f.direction);
  const reply = onInterface(f.iface, () =>
    rtnl.request(
      (seq) => encodeBpfFilterAdd({ ifindex: f.ifindex, parent, priority: f.priority, handle: f.handle, fd: f.fd, name: f.name, directAction: true }, { seq }),
      { dump: false, what: `adding the bpf filter '${f.name}' on ${f.iface} ${f.direction}` },
    ),
  );
  const echoed = reply.filter((m) => m.type === RTM_NEWTFILTER).map(decodeFilter).find((x) => x.handle !== 0 && x.bpf);
  if (echoed) return echoed;
  // A kernel that did not echo: find the filter by what we know of it.
  const candidates = dumpFilters(rtnl, f.ifindex, f.direction).filter((x) =>
    x.bpf?.name === f.name && x.bpf.id === f.programId && (f.priority === 0 || x.priority === f.priority) && (f.handle === 0 || x.handle === f.handle));
  if (candidates.length !== 1) {
    throw new NetlinkError(`added the bpf filter '${f.name}' on ${f.iface} ${f.direction} but cannot identify it (${candidates.length} candidates)`);
  }
  return candidates[0]!;
}

/** Filter instances (handle != 0) on one clsact hook; [] when there is no clsact qdisc. */
export function dumpFilters(rtnl: Rtnl, ifindex: number, direction: Direction): TcFilter[] {
  return rtnl
    .request((seq) => encodeFilterDump({ ifindex, parent: clsactParent(direction), seq }), { dump: true, what: `listing ${direction} filters of interface ${ifindex}` })
    .map(decodeFilter)
    .filter((x) => x.handle !== 0);
}

/** Entries of any kind (including classifier heads) on either hook: is anything left on the qdisc? */
export function anyFilter(rtnl: Rtnl, ifindex: number): boolean {
  return DIRECTIONS.some((d) =>
    rtnl.request((seq) => encodeFilterDump({ ifindex, parent: clsactParent(d), seq }), { dump: true, what: `listing ${d} filters of interface ${ifindex}` }).length > 0);
}

/** One filter by identity, or undefined when it (or its qdisc, or the interface) is gone. */
export function getFilter(rtnl: Rtnl, id: FilterId, kind = 'bpf'): TcFilter | undefined {
  try {
    const msgs = rtnl.request((seq) => encodeFilterGet(id, { seq }, kind), { dump: false, what: 'looking up a filter' });
    return msgs.filter((m) => m.type === RTM_NEWTFILTER).map(decodeFilter)[0];
  } catch (err) {
    if (gone(err, Errno.ENOENT, Errno.ENODEV)) return undefined;
    if (gone(err, Errno.EINVAL) && !clsactOn(rtnl, id.ifindex)) return undefined;
    throw err;
  }
}

/** Delete one filter by identity; false when it was already gone. */
export function deleteFilter(rtnl: Rtnl, id: FilterId, what: string, kind = 'bpf'): boolean {
  try {
    rtnl.request((seq) => encodeFilterDelete(id, { seq }, kind), { dump: false, what: `deleting ${what}` });
    return true;
  } catch (err) {
    if (gone(err, Errno.ENOENT, Errno.ENODEV)) return false;
    if (gone(err, Errno.EINVAL) && !clsactOn(rtnl, id.ifindex)) return false;
    throw err;
  }
}

/**
 * Delete the clsact qdisc of `ifindex` when bpfpipe created it (marker) and no filter is left on
 * it. Returns true when it was deleted. A marker whose qdisc or interface is gone is dropped.
 */
export function removeClsactIfOursAndEmpty(rtnl: Rtnl, ns: string, ifindex: number, iface: string): boolean {
  if (!clsactMarked(ns, ifindex)) return false;
  let q: TcQdisc | undefined;
  try {
    q = clsactOn(rtnl, ifindex);
  } catch (err) {
    if (!gone(err, Errno.ENODEV)) throw err;
  }
  if (!q || !isClsact(q)) {
    unmarkClsact(ns, ifindex);
    return false;
  }
  if (anyFilter(rtnl, ifindex)) return false;
  try {
    rtnl.request((seq) => encodeClsactDelete({ ifindex, seq }), { dump: false, what: `deleting the clsact qdisc on ${iface}` });
  } catch (err) {
    if (!gone(err, Errno.ENODEV, Errno.ENOENT, Errno.EINVAL)) throw err;
  }
  unmarkClsact(ns, ifindex);
  return true;
}
