/**
 * A thin rtnetlink socket: open, send one request, receive datagrams. The message codec is pure
 * and lives in src/netlink/. Replies to requests arrive synchronously (the kernel processes the
 * request inside sendmsg), so receiving uses MSG_DONTWAIT plus a bounded poll, never an unbounded
 * blocking call on the JS thread.
 */
import * as libc from './libc.js';
import { SyscallError, PermissionError } from '../errors.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const NETLINK_GET_STRICT_CHK = 12;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const EAGAIN = 11;
const EINTR = 4;
const POLLIN = 1;

export const NETLINK_ROUTE = 0;

export class NetlinkSocket {
  readonly fd: number;
  private closed = false;
  private buf = new Uint8Array(64 * 1024);

  constructor(protocol = NETLINK_ROUTE) {
    const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) throw new SyscallError('socket(AF_NETLINK)', libc.errno());
    this.fd = fd;
    try {
      const one = new Uint8Array(new Uint32Array([1]).buffer);
      // Extended acks carry the kernel's error text; cap-ack keeps error replies small.
      libc.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
      libc.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
      libc.setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, one, 4);
      const addr = new Uint8Array(12);
      new DataView(addr.buffer).setUint16(0, AF_NETLINK, true);
      if (libc.bind(fd, addr, addr.byteLength) < 0) throw new SyscallError('bind(AF_NETLINK)', libc.errno());
    } catch (err) {
      libc.close(fd);
      throw err;
    }
  }

  send(message: Uint8Array): void {
    const addr = new Uint8Array(12);
    new DataView(addr.buffer).setUint16(0, AF_NETLINK, true);
    for (;;) {
      const rc = libc.sendto(this.fd, message, message.byteLength, 0, addr, addr.byteLength);
      if (rc >= 0) return;
      const errno = libc.errno();
      if (errno === EINTR) continue;
      if (errno === 1) throw new PermissionError('netlink request refused: changing tc qdiscs and filters needs CAP_NET_ADMIN', { errno });
      throw new SyscallError('sendto(netlink)', errno);
    }
  }

  /** Receive one datagram, waiting at most `timeoutMs`. Returns a copy of its bytes. */
  receive(timeoutMs = 5000): Uint8Array {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = libc.recv(this.fd, this.buf, this.buf.byteLength, MSG_DONTWAIT | MSG_TRUNC);
      if (n >= 0) {
        if (n > this.buf.byteLength) {
          // Datagram larger than the buffer: grow and let the kernel resend on the next request.
          this.buf = new Uint8Array(Math.max(n, this.buf.byteLength * 2));
          throw new SyscallError('recv(netlink)', 105, `reply of ${n} bytes was truncated; retry`);
        }
        return this.buf.slice(0, n);
      }
      const errno = libc.errno();
      if (errno === EINTR) continue;
      if (errno !== EAGAIN) throw new SyscallError('recv(netlink)', errno);
      const left = deadline - Date.now();
      if (left <= 0) throw new SyscallError('recv(netlink)', 110, `no reply from the kernel within ${timeoutMs} ms`);
      const pfd = new Uint8Array(8);
      const v = new DataView(pfd.buffer);
      v.setInt32(0, this.fd, true);
      v.setInt16(4, POLLIN, true);
      libc.poll(pfd, 1, Math.min(left, 1000));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
