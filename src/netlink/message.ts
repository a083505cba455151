/**
 * struct nlmsghdr (u32 len, u16 type, u16 flags, u32 seq, u32 pid) and whole messages. A message
 * is the header, a fixed family header (struct tcmsg, struct ifinfomsg, ...) and attributes.
 */
import { NetlinkError } from '../errors.js';
import { NlWriter, align4, copyBytes } from './attributes.js';
import { NLMSG_HDRLEN } from './constants.js';

export interface NetlinkHeader {
  /** nlmsg_len: header + payload, without the trailing alignment padding. */
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
}

export interface NetlinkMessage extends NetlinkHeader {
  /** The `length - 16` bytes after the header (family header and attributes). */
  readonly payload: Uint8Array;
}

export interface RequestHeader {
  type: number;
  flags: number;
  seq: number;
  /** nlmsg_pid of a request: 0 (the kernel). */
  pid?: number;
}

/** Read the header at `offset`; `bytes` must hold at least 16 bytes there. */
export function decodeHeader(bytes: Uint8Array, offset = 0): NetlinkHeader {
  if (bytes.byteLength - offset < NLMSG_HDRLEN) {
    throw new NetlinkError(`malformed rtnetlink message: ${bytes.byteLength - offset} bytes where a 16-byte header was expected`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, NLMSG_HDRLEN);
  return {
    length: v.getUint32(0, true),
    type: v.getUint16(4, true),
    flags: v.getUint16(6, true),
    seq: v.getUint32(8, true),
    pid: v.getUint32(12, true),
  };
}

/**
 * Start a message: the header with a placeholder length. Write the family header and attributes
 * on the returned writer, then call finishMessage().
 */
export function beginMessage(h: RequestHeader): NlWriter {
  const w = new NlWriter(128);
  const hdr = new Uint8Array(NLMSG_HDRLEN);
  const v = new DataView(hdr.buffer);
  v.setUint16(4, h.type, true);
  v.setUint16(6, h.flags, true);
  v.setUint32(8, h.seq >>> 0, true);
  v.setUint32(12, (h.pid ?? 0) >>> 0, true);
  return w.raw(hdr);
}

/** Set nlmsg_len and return the message bytes. */
export function finishMessage(w: NlWriter): Uint8Array {
  return w.patchU32(0, w.length).finish();
}

/** Every message of one complete buffer (a datagram). Partial trailing data throws NetlinkError. */
export function parseMessages(bytes: Uint8Array): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off < bytes.byteLength) {
    const h = decodeHeader(bytes, off);
    if (h.length < NLMSG_HDRLEN || off + h.length > bytes.byteLength) {
      throw new NetlinkError(`malformed rtnetlink message at offset ${off}: nlmsg_len ${h.length} with ${bytes.byteLength - off} bytes left`);
    }
    out.push({ ...h, payload: copyBytes(bytes, off + NLMSG_HDRLEN, off + h.length) });
    off = Math.min(off + align4(h.length), bytes.byteLength);
  }
  return out;
}

/** Read a fixed family header of `size` bytes from a message payload. */
export function familyHeader(msg: NetlinkMessage, size: number, what: string): DataView {
  if (msg.payload.byteLength < size) {
    throw new NetlinkError(`malformed rtnetlink ${what}: ${msg.payload.byteLength} payload bytes, expected at least ${size}`);
  }
  return new DataView(msg.payload.buffer, msg.payload.byteOffset, size);
}
