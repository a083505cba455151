/** Qdisc messages: add/delete the clsact qdisc (handle ffff:0, parent ffff:fff1) and qdisc dumps. */
import { Attrs } from './attributes.js';
import {
  NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, RTM_DELQDISC, RTM_GETQDISC, RTM_NEWQDISC, TC_H_CLSACT,
  TCA_KIND, TCMSG_LEN,
} from './constants.js';
import { beginMessage, finishMessage, type NetlinkMessage } from './message.js';
import { readTcMsg, tcHandle, writeTcMsg } from './tcmsg.js';

export const CLSACT_HANDLE = tcHandle(0xffff0000, 0);
export const CLSACT_PARENT = TC_H_CLSACT;

export interface QdiscRequest {
  ifindex: number;
  seq: number;
  /** nlmsg_flags (default: REQUEST|ACK|EXCL|CREATE for add, REQUEST|ACK for delete). */
  flags?: number;
}

/** RTM_NEWQDISC clsact; with NLM_F_EXCL the kernel answers EEXIST when it is already there. */
export function encodeClsactAdd(r: QdiscRequest): Uint8Array {
  const w = beginMessage({ type: RTM_NEWQDISC, flags: r.flags ?? NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE, seq: r.seq });
  writeTcMsg(w, { ifindex: r.ifindex, handle: CLSACT_HANDLE, parent: CLSACT_PARENT, info: 0 });
  w.string(TCA_KIND, 'clsact');
  return finishMessage(w);
}

/** RTM_DELQDISC clsact (deletes every filter on it too: only for a qdisc we know is empty). */
export function encodeClsactDelete(r: QdiscRequest): Uint8Array {
  const w = beginMessage({ type: RTM_DELQDISC, flags: r.flags ?? NLM_F_REQUEST | NLM_F_ACK, seq: r.seq });
  writeTcMsg(w, { ifindex: r.ifindex, handle: CLSACT_HANDLE, parent: CLSACT_PARENT, info: 0 });
  w.string(TCA_KIND, 'clsact');
  return finishMessage(w);
}

/** RTM_GETQDISC dump of every qdisc in the namespace (the kernel does not filter by ifindex). */
export function encodeQdiscDump(r: { seq: number; ifindex?: number }): Uint8Array {
  const w = beginMessage({ type: RTM_GETQDISC, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: r.seq });
  writeTcMsg(w, { ifindex: r.ifindex ?? 0, handle: 0, parent: 0, info: 0 });
  return finishMessage(w);
}

export interface TcQdisc {
  kind: string;
  ifindex: number;
  handle: number;
  parent: number;
}

export function decodeQdisc(msg: NetlinkMessage): TcQdisc {
  const t = readTcMsg(msg, 'qdisc message');
  const a = new Attrs(msg.payload.subarray(TCMSG_LEN), 'qdisc attributes');
  return { kind: a.str(TCA_KIND) ?? '', ifindex: t.ifindex, handle: t.handle, parent: t.parent };
}

export function isClsact(q: TcQdisc): boolean {
  return q.kind === 'clsact' && q.handle === CLSACT_HANDLE && q.parent === CLSACT_PARENT;
}
