/**
 * An rtnetlink client: one NETLINK_ROUTE socket (bound to the network namespace of the thread that
 * opened it), requests with increasing sequence numbers, replies assembled by the pure codec.
 * Permission refusals become PermissionError; kernel errors become NetlinkError with the extended ack.
 */
import { NetlinkSocket } from '../sys/index.js';
import { Errno, PermissionError, SyscallError, NetlinkError } from '../errors.js';
import { NetlinkStreamDecoder, ReplyCollector, type NetlinkMessage } from '../netlink/index.js';
import { classify } from '../kernel/privileges.js';

const DUMP_ATTEMPTS = 3;

export class Rtnl {
  private readonly socket: NetlinkSocket;
  private seq: number;
  private closed = false;

  constructor() {
    try {
      this.socket = new NetlinkSocket();
    } catch (err) {
      throw classify(err, 'netlink', 'opening an rtnetlink socket');
    }
    this.seq = (Date.now() & 0x3fffffff) >>> 0;
  }

  /**
   * Send the request `build(seq)` and collect its reply: the data messages of a dump (after
   * NLMSG_DONE), or of a plain request (after its ack). Interrupted dumps are retried.
   */
  request(build: (seq: number) => Uint8Array, options: { dump: boolean; what: string }): NetlinkMessage[] {
    if (this.closed) throw new NetlinkError(`${options.what}: the rtnetlink socket is closed`);
    for (let attempt = 1; ; attempt++) {
      const seq = (this.seq = (this.seq + 1) >>> 0);
      const collector = new ReplyCollector(seq, options.dump, options.what);
      try {
        this.socket.send(build(seq));
      } catch (err) {
        if (err instanceof PermissionError) throw new PermissionError(`${options.what}: ${err.message}`, { errno: err.errno, cause: err });
        throw err;
      }
      const stream = new NetlinkStreamDecoder();
      while (!collector.done) {
        let datagram: Uint8Array;
        try {
          datagram = this.socket.receive(5000);
        } catch (err) {
          if (err instanceof SyscallError && err.errno === Errno.ENOBUFS) {
            throw new NetlinkError(`${options.what} failed: the reply did not fit the receive buffer; retry`, { errno: err.errno, cause: err });
          }
          throw err;
        }
        for (const m of stream.push(datagram)) {
          try {
            collector.feed(m);
          } catch (err) {
            if (err instanceof NetlinkError && (err.errno === Errno.EPERM || err.errno === Errno.EACCES)) {
              throw new PermissionError(`${options.what}: operation not permitted; changing tc qdiscs and filters needs CAP_NET_ADMIN (or root)`, {
                errno: err.errno,
                cause: err,
              });
            }
            throw err;
          }
          if (collector.done) break;
        }
      }
      if (!collector.interrupted || attempt >= DUMP_ATTEMPTS) return collector.messages;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Run `fn` with a fresh client, closed afterwards. */
export function withRtnl<T>(fn: (rtnl: Rtnl) => T): T {
  const rtnl = new Rtnl();
  try {
    return fn(rtnl);
  } finally {
    rtnl.close();
  }
}
