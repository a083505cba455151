/**
 * NLMSG_ERROR (acks and errors) and NLMSG_DONE, with the extended ack TLVs the kernel appends when
 * NETLINK_EXT_ACK is set: the error text (NLMSGERR_ATTR_MSG), the offset of the offending attribute
 * in the request (NLMSGERR_ATTR_OFFS), a missing attribute (MISS_TYPE / MISS_NEST).
 */
import { NetlinkError, errnoName, errnoText } from '../errors.js';
import { Attrs, align4 } from './attributes.js';
import {
  NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_HDRLEN, NLMSGERR_ATTR_COOKIE, NLMSGERR_ATTR_MISS_NEST, NLMSGERR_ATTR_MISS_TYPE,
  NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS,
} from './constants.js';
import { decodeHeader, type NetlinkHeader, type NetlinkMessage } from './message.js';

export interface ExtAck {
  /** The kernel's error (or warning) text. */
  message?: string;
  /** Offset of the offending attribute in the request, from the start of its nlmsghdr. */
  offset?: number;
  /** Type of a required attribute that was missing, and the offset of the nest it was missing in. */
  missingType?: number;
  missingNest?: number;
  cookie?: Uint8Array;
}

export interface Ack {
  /** 0 for a positive ack, else the positive errno. */
  errno: number;
  /** The header of the request this answers. */
  request: NetlinkHeader;
  /** The kernel echoed only the request header (NETLINK_CAP_ACK, or any success ack). */
  capped: boolean;
  extack: ExtAck | undefined;
}

function decodeExtAck(tlvs: Uint8Array): ExtAck | undefined {
  if (tlvs.byteLength === 0) return undefined;
  const a = new Attrs(tlvs, 'extended ack');
  const ext: ExtAck = {};
  const message = a.str(NLMSGERR_ATTR_MSG);
  if (message !== undefined) ext.message = message;
  const offset = a.u32(NLMSGERR_ATTR_OFFS);
  if (offset !== undefined) ext.offset = offset;
  const missingType = a.u32(NLMSGERR_ATTR_MISS_TYPE);
  if (missingType !== undefined) ext.missingType = missingType;
  const missingNest = a.u32(NLMSGERR_ATTR_MISS_NEST);
  if (missingNest !== undefined) ext.missingNest = missingNest;
  const cookie = a.get(NLMSGERR_ATTR_COOKIE);
  if (cookie !== undefined) ext.cookie = new Uint8Array(cookie);
  return ext;
}

/** Decode an NLMSG_ERROR message (struct nlmsgerr + the echoed request + extended ack TLVs). */
export function decodeAck(msg: NetlinkMessage): Ack {
  const p = msg.payload;
  if (p.byteLength < 4 + NLMSG_HDRLEN) {
    throw new NetlinkError(`malformed rtnetlink error message: ${p.byteLength} bytes, expected at least ${4 + NLMSG_HDRLEN}`);
  }
  const error = new DataView(p.buffer, p.byteOffset, 4).getInt32(0, true);
  const request = decodeHeader(p, 4);
  const capped = (msg.flags & NLM_F_CAPPED) !== 0;
  // Without CAP_ACK an error echoes the whole request; success acks (and capped ones) only its header.
  let off = 4 + NLMSG_HDRLEN;
  if (!capped && error !== 0) off = 4 + Math.max(NLMSG_HDRLEN, align4(request.length));
  if (off > p.byteLength) {
    throw new NetlinkError(`malformed rtnetlink error message: the echoed request (${request.length} bytes) overruns the message`);
  }
  const extack = msg.flags & NLM_F_ACK_TLVS ? decodeExtAck(p.subarray(off)) : undefined;
  return { errno: error === 0 ? 0 : -error, request, capped, extack };
}

export interface Done {
  /** 0, or the positive errno of a dump that failed part way. */
  errno: number;
  extack: ExtAck | undefined;
}

/** Decode NLMSG_DONE: an optional int (the dump's result) and, with NLM_F_ACK_TLVS, ack TLVs. */
export function decodeDone(msg: NetlinkMessage): Done {
  const p = msg.payload;
  const error = p.byteLength >= 4 ? new DataView(p.buffer, p.byteOffset, 4).getInt32(0, true) : 0;
  const extack = msg.flags & NLM_F_ACK_TLVS && p.byteLength > 4 ? decodeExtAck(p.subarray(4)) : undefined;
  return { errno: error === 0 ? 0 : -error, extack };
}

/** The NetlinkError for a failed request: "<what> failed: EEXIST (File exists): <kernel text>". */
export function netlinkFailure(what: string, errno: number, extack?: ExtAck): NetlinkError {
  const text = extack?.message;
  const where = extack?.offset !== undefined ? ` (at byte ${extack.offset} of the request)` : '';
  return new NetlinkError(`${what} failed: ${errnoName(errno)} (${errnoText(errno)})${text ? `: ${text}` : ''}${text ? where : ''}`, {
    errno,
    ...(text === undefined ? {} : { extack: text }),
  });
}
