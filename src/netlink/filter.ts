/**
 * Filter messages for the cls_bpf classifier ("bpf"): add (TCA_OPTIONS with TCA_BPF_FD, TCA_BPF_NAME
 * and TCA_BPF_FLAGS = ACT_DIRECT), delete and get one filter by its full identity (ifindex, parent,
 * priority, protocol, handle), dump the filters of one hook, and decode what the kernel sends back.
 */
import { NetlinkError } from '../errors.js';
import { Attrs } from './attributes.js';
import {
  ETH_P_ALL, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO, NLM_F_EXCL, NLM_F_REQUEST, RTM_DELTFILTER, RTM_GETTFILTER,
  RTM_NEWTFILTER, TCA_BPF_CLASSID, TCA_BPF_FD, TCA_BPF_FLAG_ACT_DIRECT, TCA_BPF_FLAGS, TCA_BPF_FLAGS_GEN, TCA_BPF_ID,
  TCA_BPF_NAME, TCA_BPF_TAG, TCA_CHAIN, TCA_KIND, TCA_OPTIONS, TCMSG_LEN,
} from './constants.js';
import { beginMessage, finishMessage, type NetlinkMessage } from './message.js';
import { decodeFilterInfo, filterInfo, readTcMsg, writeTcMsg } from './tcmsg.js';

/** The identity of one filter instance: what delete and get need. */
export interface FilterId {
  ifindex: number;
  parent: number;
  /** 1..65535; 0 on add lets the kernel pick one. */
  priority: number;
  /** Host-order ethertype (default ETH_P_ALL). */
  protocol?: number;
  /** cls_bpf handle; 0 on add lets the kernel pick one. */
  handle: number;
  chain?: number;
}

export interface BpfFilterAdd extends FilterId {
  /** Program fd (in the sending process). */
  fd: number;
  /** TCA_BPF_NAME: free text shown by `tc filter show` (bpfpipe tags its filters here). */
  name: string;
  /** Direct action (the program's return code is the verdict). Default true. */
  directAction?: boolean;
  classid?: number;
}

export interface EncodeOptions {
  seq: number;
  /** nlmsg_flags; the defaults are given per message. */
  flags?: number;
  /** Set NLA_F_NESTED on TCA_OPTIONS (default true; iproute2 sends it without). */
  nestedFlag?: boolean;
}

function checkName(name: string): void {
  // cls_bpf keeps at most CLS_BPF_NAME_LEN (256) bytes including the NUL.
  if (new TextEncoder().encode(name).byteLength > 255 || name.includes('\0')) {
    throw new NetlinkError(`cls_bpf filter name must be at most 255 bytes without NUL, got ${JSON.stringify(name.slice(0, 40))}...`);
  }
}

/** RTM_NEWTFILTER, default flags REQUEST|ACK|EXCL|CREATE|ECHO (the echo reports the chosen priority and handle). */
export function encodeBpfFilterAdd(f: BpfFilterAdd, o: EncodeOptions): Uint8Array {
  checkName(f.name);
  const w = beginMessage({ type: RTM_NEWTFILTER, flags: o.flags ?? NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE | NLM_F_ECHO, seq: o.seq });
  writeTcMsg(w, { ifindex: f.ifindex, handle: f.handle, parent: f.parent, info: filterInfo(f.priority, f.protocol ?? ETH_P_ALL) });
  w.string(TCA_KIND, 'bpf');
  if (f.chain !== undefined) w.u32(TCA_CHAIN, f.chain);
  w.nested(TCA_OPTIONS, (n) => {
    n.u32(TCA_BPF_FD, f.fd);
    n.string(TCA_BPF_NAME, f.name);
    if (f.directAction ?? true) n.u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
    if (f.classid !== undefined) n.u32(TCA_BPF_CLASSID, f.classid);
  }, o.nestedFlag ?? true);
  return finishMessage(w);
}

function filterIdMessage(type: number, f: FilterId, o: EncodeOptions, defaultFlags: number, kind: string | undefined): Uint8Array {
  const w = beginMessage({ type, flags: o.flags ?? defaultFlags, seq: o.seq });
  writeTcMsg(w, { ifindex: f.ifindex, handle: f.handle, parent: f.parent, info: filterInfo(f.priority, f.protocol ?? ETH_P_ALL) });
  if (kind !== undefined) w.string(TCA_KIND, kind);
  if (f.chain !== undefined) w.u32(TCA_CHAIN, f.chain);
  return finishMessage(w);
}

/**
 * RTM_DELTFILTER for exactly one filter: with a handle, the kernel deletes only that instance; with
 * handle 0 it would delete every filter of that priority, so a zero handle or priority is refused.
 */
export function encodeFilterDelete(f: FilterId, o: EncodeOptions, kind = 'bpf'): Uint8Array {
  if (f.handle === 0 || f.priority === 0) {
    throw new NetlinkError('deleting one filter needs its priority and handle (0 would delete a whole group of filters)');
  }
  return filterIdMessage(RTM_DELTFILTER, f, o, NLM_F_REQUEST | NLM_F_ACK, kind);
}

/** RTM_GETTFILTER for one filter (not a dump); default flags REQUEST|ACK. */
export function encodeFilterGet(f: FilterId, o: EncodeOptions, kind = 'bpf'): Uint8Array {
  return filterIdMessage(RTM_GETTFILTER, f, o, NLM_F_REQUEST | NLM_F_ACK, kind);
}

/** RTM_GETTFILTER dump of every filter (all chains, priorities, kinds) under one parent. */
export function encodeFilterDump(r: { ifindex: number; parent: number; seq: number }): Uint8Array {
  const w = beginMessage({ type: RTM_GETTFILTER, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: r.seq });
  writeTcMsg(w, { ifindex: r.ifindex, handle: 0, parent: r.parent, info: 0 });
  return finishMessage(w);
}

export interface BpfFilterOptions {
  /** TCA_BPF_NAME. */
  name: string | undefined;
  /** TCA_BPF_ID: the program's id. */
  id: number | undefined;
  /** TCA_BPF_TAG as 16 hex digits. */
  tag: string | undefined;
  directAction: boolean;
  flagsGen: number | undefined;
  classid: number | undefined;
}

export interface TcFilter {
  kind: string;
  ifindex: number;
  parent: number;
  /** 0 for the entry the kernel dumps for each priority/protocol (no filter instance). */
  handle: number;
  priority: number;
  /** Host-order ethertype. */
  protocol: number;
  chain: number;
  /** cls_bpf options, when kind is "bpf" and the entry is a filter instance. */
  bpf: BpfFilterOptions | undefined;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** Decode RTM_NEWTFILTER (dump entries, get replies, echoes) and RTM_DELTFILTER notifications. */
export function decodeFilter(msg: NetlinkMessage): TcFilter {
  const t = readTcMsg(msg, 'filter message');
  const a = new Attrs(msg.payload.subarray(TCMSG_LEN), 'filter attributes');
  const kind = a.str(TCA_KIND) ?? '';
  const { priority, protocol } = decodeFilterInfo(t.info);
  let bpf: BpfFilterOptions | undefined;
  const opts = a.nested(TCA_OPTIONS);
  if (kind === 'bpf' && opts) {
    const tag = opts.get(TCA_BPF_TAG);
    bpf = {
      name: opts.str(TCA_BPF_NAME),
      id: opts.u32(TCA_BPF_ID),
      tag: tag ? hex(tag) : undefined,
      directAction: ((opts.u32(TCA_BPF_FLAGS) ?? 0) & TCA_BPF_FLAG_ACT_DIRECT) !== 0,
      flagsGen: opts.u32(TCA_BPF_FLAGS_GEN),
      classid: opts.u32(TCA_BPF_CLASSID),
    };
  }
  return { kind, ifindex: t.ifindex, parent: t.parent, handle: t.handle, priority, protocol, chain: a.u32(TCA_CHAIN) ?? 0, bpf };
}
