/**
 * A streaming message decoder: bytes may arrive split at any offset (a datagram read in pieces, a
 * capture replayed in chunks); push() buffers partial messages and returns the complete ones, in order.
 */
import { NetlinkError } from '../errors.js';
import { align4, copyBytes } from './attributes.js';
import { NLMSG_HDRLEN } from './constants.js';
import { decodeHeader, type NetlinkMessage } from './message.js';

const EMPTY = new Uint8Array(0);

export class NetlinkStreamDecoder {
  private pending: Uint8Array = EMPTY;
  /** Alignment padding of the last message that has not arrived yet. */
  private skip = 0;

  /** Bytes held back, waiting for the rest of a message. */
  get buffered(): number {
    return this.pending.byteLength;
  }

  push(chunk: Uint8Array): NetlinkMessage[] {
    let data = chunk;
    if (this.skip > 0) {
      const n = Math.min(this.skip, data.byteLength);
      this.skip -= n;
      data = data.subarray(n);
    }
    if (data.byteLength === 0) return [];
    if (this.pending.byteLength > 0) {
      const joined = new Uint8Array(this.pending.byteLength + data.byteLength);
      joined.set(this.pending);
      joined.set(data, this.pending.byteLength);
      data = joined;
    }
    const out: NetlinkMessage[] = [];
    let off = 0;
    while (data.byteLength - off >= NLMSG_HDRLEN) {
      const h = decodeHeader(data, off);
      if (h.length < NLMSG_HDRLEN) throw new NetlinkError(`malformed rtnetlink stream: nlmsg_len ${h.length} at offset ${off}`);
      if (data.byteLength - off < h.length) break;
      out.push({ ...h, payload: copyBytes(data, off + NLMSG_HDRLEN, off + h.length) });
      const next = off + align4(h.length);
      if (next > data.byteLength) {
        this.skip = next - data.byteLength;
        off = data.byteLength;
      } else {
        off = next;
      }
    }
    this.pending = off === data.byteLength ? EMPTY : copyBytes(data, off, data.byteLength);
    return out;
  }

  /** The stream ended: a partial message left over is an error. */
  end(): void {
    if (this.pending.byteLength > 0) {
      const n = this.pending.byteLength;
      this.pending = EMPTY;
      throw new NetlinkError(`truncated rtnetlink stream: ${n} bytes of an incomplete message at the end`);
    }
    this.skip = 0;
  }
}
