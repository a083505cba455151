/**
 * struct tcmsg (family, ifindex, handle, parent, info) and tc handle arithmetic. For filters,
 * tcm_info is TC_H_MAKE(priority << 16, htons(protocol)): the priority in the upper 16 bits and the
 * ethertype, in network byte order, in the lower 16.
 */
import { NetlinkError } from '../errors.js';
import { NlWriter } from './attributes.js';
import { AF_UNSPEC, TC_H_CLSACT, TC_H_MAJ_MASK, TC_H_MIN_EGRESS, TC_H_MIN_INGRESS, TC_H_MIN_MASK, TCMSG_LEN } from './constants.js';
import { familyHeader, type NetlinkMessage } from './message.js';

export interface TcMsg {
  family?: number;
  ifindex: number;
  handle: number;
  parent: number;
  info: number;
}

export type Direction = 'ingress' | 'egress';

export function writeTcMsg(w: NlWriter, t: TcMsg): NlWriter {
  const b = new Uint8Array(TCMSG_LEN);
  const v = new DataView(b.buffer);
  v.setUint8(0, t.family ?? AF_UNSPEC);
  v.setInt32(4, t.ifindex, true);
  v.setUint32(8, t.handle >>> 0, true);
  v.setUint32(12, t.parent >>> 0, true);
  v.setUint32(16, t.info >>> 0, true);
  return w.raw(b);
}

export function readTcMsg(msg: NetlinkMessage, what: string): Required<TcMsg> {
  const v = familyHeader(msg, TCMSG_LEN, what);
  return {
    family: v.getUint8(0),
    ifindex: v.getInt32(4, true),
    handle: v.getUint32(8, true),
    parent: v.getUint32(12, true),
    info: v.getUint32(16, true),
  };
}

/** TC_H_MAKE(major, minor) with `major` already shifted (e.g. 0xffff0000). */
export function tcHandle(major: number, minor: number): number {
  return ((major & TC_H_MAJ_MASK) | (minor & TC_H_MIN_MASK)) >>> 0;
}

/** "ffff:fff2" as tc prints handles. */
export function formatTcHandle(h: number): string {
  return `${((h >>> 16) & 0xffff).toString(16)}:${(h & 0xffff).toString(16)}`;
}

/** The clsact hook of a direction: ffff:fff2 (ingress) or ffff:fff3 (egress). */
export function clsactParent(direction: Direction): number {
  return tcHandle(TC_H_CLSACT, direction === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
}

/** The direction of a clsact parent handle, or undefined for any other parent. */
export function clsactDirection(parent: number): Direction | undefined {
  if (parent >>> 0 === clsactParent('ingress')) return 'ingress';
  if (parent >>> 0 === clsactParent('egress')) return 'egress';
  return undefined;
}

const swap16 = (x: number): number => ((x & 0xff) << 8) | ((x >> 8) & 0xff);

/** tcm_info of a filter: priority (1..65535, 0 = let the kernel choose) and host-order ethertype. */
export function filterInfo(priority: number, protocol: number): number {
  if (!Number.isInteger(priority) || priority < 0 || priority > 0xffff) throw new NetlinkError(`filter priority must be 0..65535, got ${priority}`);
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 0xffff) throw new NetlinkError(`filter protocol must be 0..65535, got ${protocol}`);
  return ((priority << 16) | swap16(protocol)) >>> 0;
}

export function decodeFilterInfo(info: number): { priority: number; protocol: number } {
  return { priority: info >>> 16, protocol: swap16(info & 0xffff) };
}
