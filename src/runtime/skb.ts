/**
 * The tc context: a `struct __sk_buff` over one Ethernet frame, as BPF_PROG_TEST_RUN builds it (the
 * frame starts at skb->data, skb->protocol is the ethertype as eth_type_trans sets it, pkt_type from
 * the destination MAC against the device's, the device is loopback unless an ifindex is given).
 * Loads of data, data_end and data_meta give packet pointers (direct packet access).
 */
import { Memory, type Region } from './memory.js';
import { UsageError } from '../errors.js';

export const SKB_SIZE = 192;
export const Skb = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24, vlan_proto: 28,
  priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68, tc_classid: 72, data: 76, data_end: 80,
  napi_id: 84, data_meta: 140, tstamp: 152, wire_len: 160, gso_segs: 164, gso_size: 176,
} as const;

/** The fields a tc program may write (the verifier's tc_cls_act_is_valid_access): offset, bytes. */
const WRITABLE: readonly (readonly [number, number])[] = [
  [Skb.mark, 4], [Skb.priority, 4], [Skb.tc_index, 4], [Skb.cb, 20], [Skb.tc_classid, 4], [Skb.queue_mapping, 4], [Skb.tstamp, 8],
];

/** Whether `size` bytes at `off` lie in one writable field. */
function writableField(off: number, size: number): boolean {
  const end = off + size;
  return WRITABLE.some(([start, len]) => off >= start && end <= start + len);
}

export interface SkbOptions {
  ifindex?: number;
  ingressIfindex?: number;
  mark?: number;
  /** The device's MAC address, for pkt_type (loopback: all zeros). */
  deviceMac?: Uint8Array;
}

const PACKET_HOST = 0;
const PACKET_BROADCAST = 1;
const PACKET_MULTICAST = 2;
const PACKET_OTHERHOST = 3;

/**
 * skb->pkt_type of a frame from its destination MAC (`d4` its first four bytes as a little-endian u32,
 * `d2` the next two) against the device's (`m4`, `m2` the same way).
 */
function pktType(n: number, d4: number, d2: number, m4: number, m2: number): number {
  if (n < 6) return PACKET_HOST;
  if (d4 & 1) return d4 === -1 && d2 === 0xffff ? PACKET_BROADCAST : PACKET_MULTICAST;
  return d4 === m4 && d2 === m2 ? PACKET_HOST : PACKET_OTHERHOST;
}

const LOOPBACK_MAC = new Uint8Array(6);

/**
 * The context and packet regions of a program run, made once per runtime and refilled per packet
 * (the packet is copied: the program may write it).
 */
export class SkbContext {
  readonly ctx: Region;
  readonly packet: Region;
  /** The context's pointer fields (Region.pointers): data_end's low half changes with the frame. */
  private readonly pointers = new Int32Array(2 * SKB_SIZE);
  /** The context's bytes as 32-bit words, on a little-endian host (else undefined: the DataView). */
  private readonly words: Uint32Array | undefined;

  constructor(mem: Memory) {
    this.packet = mem.add('packet', new Uint8Array(2048), true);
    this.ctx = mem.add('ctx', new Uint8Array(SKB_SIZE), false);
    // data and data_meta: the packet's start; data_end: its end (set per frame)
    for (const off of [Skb.data, Skb.data_end, Skb.data_meta]) this.pointers[2 * off + 1] = this.packet.id;
    this.ctx.pointers = this.pointers;
    // (every write into the context passes this test: the fields it allows are zeroed by the next fill)
    this.ctx.writableAt = (off, size) => {
      if (!writableField(off, size)) return false;
      this.written = true;
      return true;
    };
    const b = this.ctx.bytes;
    this.words = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 && b.byteOffset % 4 === 0 ? new Uint32Array(b.buffer, b.byteOffset, SKB_SIZE >> 2) : undefined;
  }

  /** The device MAC of the last run, and its bytes as pktType() takes them. */
  private mac: Uint8Array | undefined;
  private m4 = 0;
  private m2 = 0;

  private setMac(mac: Uint8Array): void {
    if (mac.byteLength !== 6) throw new UsageError(`deviceMac is ${mac.byteLength} bytes; a MAC address is 6`);
    this.mac = mac;
    this.m4 = (mac[0]! | (mac[1]! << 8) | (mac[2]! << 16) | (mac[3]! << 24)) | 0;
    this.m2 = mac[4]! | (mac[5]! << 8);
  }

  /** A program wrote a field of the context since the last fill (which zeroes the writable fields then). */
  private written = false;

  /** The frame of this run while it is not copied in yet. */
  private pending: Uint8Array | undefined = undefined;

  /** The packet region's sync: copy the frame in, after which the region is its own, writable. */
  private readonly copyIn = (): void => {
    const p = this.packet;
    const f = this.pending;
    if (f !== undefined) {
      p.bytes.set(f);
      this.pending = undefined;
    }
    p.src = p.bytes;
    p.writable = true;
    p.sync = undefined;
  };

  /** Set up for one frame. */
  fill(frame: Uint8Array, o: SkbOptions): void {
    const p = this.packet;
    const n = frame.length; // (.length: byteLength is a slow accessor in this V8)
    if (p.bytes.length < n) {
      p.bytes = new Uint8Array(Math.max(n, p.bytes.length * 2));
      p.view = new DataView(p.bytes.buffer);
    }
    // The frame is copied in (the program may write it) only when something needs the copy: a store,
    // a helper, any access through Memory (Region.sync). Until then loads read the frame itself.
    this.pending = frame;
    p.src = frame;
    p.sync = this.copyIn;
    p.writable = false;
    p.size = n;
    // the destination MAC, the device's as two words (cached)
    const d4 = n >= 6 ? frame[0]! | (frame[1]! << 8) | (frame[2]! << 16) | (frame[3]! << 24) : 0;
    const d2 = n >= 6 ? frame[4]! | (frame[5]! << 8) : 0;
    const mac = o.deviceMac ?? LOOPBACK_MAC;
    if (mac !== this.mac) this.setMac(mac);
    const type = pktType(n, d4, d2, this.m4, this.m2);
    this.pointers[2 * Skb.data_end] = n;
    // Every byte is zero but the fields set below and those a program may write (writableField(): through
    // Memory's checks, the only way into this read-only region): those are zeroed, as a whole c.fill(0)
    // would, when a run wrote one (they are zero otherwise).
    if (this.written) this.zeroWritable();
    const w = this.words;
    if (w !== undefined) {
      // The same as the DataView writes below, through 32-bit words (a little-endian host).
      w[Skb.len >> 2] = n;
      w[Skb.pkt_type >> 2] = type;
      w[Skb.mark >> 2] = o.mark ?? 0;
      w[Skb.protocol >> 2] = n >= 14 ? frame[13]! << 8 | frame[12]! : 0;
      w[Skb.ingress_ifindex >> 2] = o.ingressIfindex ?? 0;
      w[Skb.ifindex >> 2] = o.ifindex ?? 1;
      return;
    }
    const v = this.ctx.view;
    v.setUint32(Skb.len, n, true);
    v.setUint32(Skb.pkt_type, type, true);
    v.setUint32(Skb.mark, o.mark ?? 0, true);
    // skb->protocol is __be16: the program sees the ethertype's bytes in network order.
    const ethertype = n >= 14 ? (frame[12]! << 8) | frame[13]! : 0;
    v.setUint32(Skb.protocol, ((ethertype & 0xff) << 8) | (ethertype >> 8), true);
    v.setUint32(Skb.ingress_ifindex, o.ingressIfindex ?? 0, true);
    v.setUint32(Skb.ifindex, o.ifindex ?? 1, true);
  }

  /** The fields a program may write, zeroed (`mark` is set again by fill). */
  private zeroWritable(): void {
    const v = this.ctx.view;
    for (const [start, len] of WRITABLE) for (let k = 0; k < len; k += 4) v.setUint32(start + k, 0);
    this.written = false;
  }

  /** The packet bytes of the current run (as the program left them). */
  get frame(): Uint8Array {
    this.copyIn();
    return this.packet.bytes.subarray(0, this.packet.size);
  }
}
