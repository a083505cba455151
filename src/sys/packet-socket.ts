/**
 * An AF_PACKET socket on one interface: the frames tc would see, read without loading anything into
 * the kernel (for the userspace runtime). Needs CAP_NET_RAW. Non-blocking; readiness comes from the
 * shared poller, so the JS thread never blocks.
 */
import * as libc from './libc.js';
import { kernel, type PollRegistration } from './kernel.js';
import { PermissionError, SyscallError } from '../errors.js';

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL)
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const EAGAIN = 11;
const EINTR = 4;
const EPERM = 1;
const EACCES = 13;
/** sockaddr_ll.sll_pkttype of a frame the host sends (tc egress); anything else arrived (tc ingress). */
export const PACKET_OUTGOING = 4;

export interface PacketFrame {
  /** The frame's bytes (a view into the socket's buffer, valid until the next receive). */
  data: Uint8Array;
  /** Length on the wire (may exceed data when the frame was larger than the buffer). */
  wireLength: number;
  /** sll_pkttype: PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3, OUTGOING 4. */
  pktType: number;
}

export class PacketSocket {
  readonly fd: number;
  private closed = false;
  private readonly buf = new Uint8Array(65536 + 64);
  private readonly addr = new Uint8Array(20);
  private readonly alen = new Uint32Array(1);
  private reg: PollRegistration | undefined;

  constructor(readonly ifindex: number, iface: string) {
    const fd = libc.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, ETH_P_ALL_BE);
    if (fd < 0) {
      const errno = libc.errno();
      if (errno === EPERM || errno === EACCES) {
        throw new PermissionError(`reading frames of ${iface} in user space needs CAP_NET_RAW, which this process does not have; run it as root, or replay a capture instead (bpfpipe replay OBJ --pcap FILE)`, { errno });
      }
      throw new SyscallError('socket(AF_PACKET)', errno);
    }
    this.fd = fd;
    const sll = new Uint8Array(20);
    const v = new DataView(sll.buffer);
    v.setUint16(0, AF_PACKET, true);
    v.setUint16(2, ETH_P_ALL_BE, true);
    v.setInt32(4, ifindex, true);
    if (libc.bind(fd, sll, sll.byteLength) < 0) {
      const errno = libc.errno();
      libc.close(fd);
      throw new SyscallError(`bind(AF_PACKET, ${iface})`, errno);
    }
  }

  /** The next queued frame, or undefined when none is waiting. */
  receive(): PacketFrame | undefined {
    for (;;) {
      this.alen[0] = this.addr.byteLength;
      const n = libc.recvfrom(this.fd, this.buf, this.buf.byteLength, MSG_DONTWAIT | MSG_TRUNC, this.addr, this.alen);
      if (n >= 0) {
        return { data: this.buf.subarray(0, Math.min(n, this.buf.byteLength)), wireLength: n, pktType: this.addr[10]! };
      }
      const errno = libc.errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return undefined;
      throw new SyscallError('recvfrom(AF_PACKET)', errno);
    }
  }

  /** Resolves when a frame is waiting (or the socket is closed). */
  readable(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.reg ??= kernel().watch(this.fd, () => this.wake?.());
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
      this.reg.arm();
    });
  }

  private wake: (() => void) | undefined;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reg?.close();
    libc.close(this.fd);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
