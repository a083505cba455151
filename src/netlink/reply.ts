/**
 * The reply to one request, assembled from the messages that come back: data messages, then an
 * ack (NLMSG_ERROR with error 0) for a plain request or NLMSG_DONE for a dump (NLM_F_MULTI parts).
 * An error ack, a failed dump, or an overrun ends the reply with a NetlinkError that carries the
 * kernel's extended ack text. Messages with another sequence number (late replies to an earlier,
 * abandoned request) are ignored.
 */
import { NetlinkError } from '../errors.js';
import { decodeAck, decodeDone, netlinkFailure, type ExtAck } from './ack.js';
import { NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN } from './constants.js';
import type { NetlinkMessage } from './message.js';

export class ReplyCollector {
  /** The data messages of the reply, in order. */
  readonly messages: NetlinkMessage[] = [];
  /** A dump part carried NLM_F_DUMP_INTR: the data changed during the dump; ask again. */
  interrupted = false;
  /** The kernel's warning text on a successful ack, if it sent one. */
  warning: ExtAck | undefined;
  private finished = false;

  constructor(
    readonly seq: number,
    readonly dump: boolean,
    /** What the request does, for error messages ("adding the clsact qdisc on eth0"). */
    readonly what: string,
  ) {}

  get done(): boolean {
    return this.finished;
  }

  /** Take one message; returns true when the reply is complete. Throws NetlinkError on failure. */
  feed(msg: NetlinkMessage): boolean {
    if (this.finished || msg.seq !== this.seq) return this.finished;
    if (msg.flags & NLM_F_DUMP_INTR) this.interrupted = true;
    switch (msg.type) {
      case NLMSG_NOOP:
        return false;
      case NLMSG_OVERRUN:
        this.finished = true;
        throw new NetlinkError(`${this.what} failed: the kernel reported a netlink overrun (data lost); retry`);
      case NLMSG_ERROR: {
        const ack = decodeAck(msg);
        this.finished = true;
        if (ack.errno !== 0) throw netlinkFailure(this.what, ack.errno, ack.extack);
        this.warning = ack.extack;
        return true;
      }
      case NLMSG_DONE: {
        if (!this.dump) return false;
        const done = decodeDone(msg);
        this.finished = true;
        if (done.errno !== 0) throw netlinkFailure(this.what, done.errno, done.extack);
        return true;
      }
      default:
        this.messages.push(msg);
        return false;
    }
  }
}
