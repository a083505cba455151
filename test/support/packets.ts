/**
 * A corpus of Ethernet frames for differential tests (kernel vs userspace runtime) and runtime
 * benchmarks: IPv4/IPv6 × TCP/UDP/ICMP, VLAN-tagged, ARP, and truncated frames. Addresses from
 * 198.18.0.0/15 and 2001:2::/48 (benchmarking ranges).
 */

const MAC_A = [2, 0, 0, 0, 0, 1];
const MAC_B = [2, 0, 0, 0, 0, 2];

function frame(ethertype: number, payload: Uint8Array, vlan?: number): Uint8Array {
  const head = vlan === undefined ? 14 : 18;
  const p = new Uint8Array(head + payload.byteLength);
  const v = new DataView(p.buffer);
  p.set([...MAC_B, ...MAC_A], 0);
  if (vlan !== undefined) {
    v.setUint16(12, 0x8100);
    v.setUint16(14, vlan);
    v.setUint16(16, ethertype);
  } else v.setUint16(12, ethertype);
  p.set(payload, head);
  return p;
}

function fill(p: Uint8Array, from: number, seed: number): void {
  for (let i = from; i < p.byteLength; i++) p[i] = (i * 7 + seed) & 0xff;
}

function l4(proto: number, sport: number, dport: number, payload: number): Uint8Array {
  const size = (proto === 6 ? 20 : 8) + payload;
  const p = new Uint8Array(size);
  const v = new DataView(p.buffer);
  if (proto === 1 || proto === 58) {
    p[0] = proto === 1 ? 8 : 128; // echo request
    v.setUint16(4, sport);
    v.setUint16(6, dport);
  } else {
    v.setUint16(0, sport);
    v.setUint16(2, dport);
    if (proto === 17) v.setUint16(4, size);
    else {
      v.setUint32(4, 0x01020304);
      p[12] = 5 << 4;
      p[13] = 0x18; // PSH ACK
      v.setUint16(14, 64240);
    }
  }
  fill(p, proto === 6 ? 20 : 8, proto);
  return p;
}

function ipv4(proto: number, body: Uint8Array, src = [198, 18, 0, 1], dst = [198, 18, 0, 2]): Uint8Array {
  const p = new Uint8Array(20 + body.byteLength);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.byteLength);
  v.setUint16(4, 0x1234);
  p[8] = 64;
  p[9] = proto;
  p.set(src, 12);
  p.set(dst, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  v.setUint16(10, ~sum & 0xffff);
  p.set(body, 20);
  return p;
}

function ipv6(next: number, body: Uint8Array): Uint8Array {
  const p = new Uint8Array(40 + body.byteLength);
  const v = new DataView(p.buffer);
  v.setUint32(0, 0x60000000);
  v.setUint16(4, body.byteLength);
  p[6] = next;
  p[7] = 64;
  p.set([0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8);
  p.set([0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 24);
  p.set(body, 40);
  return p;
}

function arp(): Uint8Array {
  const p = new Uint8Array(28);
  const v = new DataView(p.buffer);
  v.setUint16(0, 1);
  v.setUint16(2, 0x0800);
  p[4] = 6;
  p[5] = 4;
  v.setUint16(6, 1);
  p.set([...MAC_A, 198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 198, 18, 0, 2], 8);
  return p;
}

export interface NamedPacket {
  name: string;
  data: Uint8Array;
}

/** The corpus; ports 9000–9003 pick the four channels of the project's demo program. */
export function packetCorpus(): NamedPacket[] {
  return [...kernelCorpus()];
}

/** Frames the kernel's test run refuses (header cut short): for the runtime alone. */
export function shortFrames(): NamedPacket[] {
  const full = frame(0x0800, ipv4(17, l4(17, 40600, 9000, 64)));
  const v6 = frame(0x86dd, ipv6(6, l4(6, 40700, 22, 10)));
  return [
    { name: 'truncated in the ipv4 header', data: full.slice(0, 14 + 12) },
    { name: 'ethernet header only', data: full.slice(0, 14) },
    { name: 'truncated in the ipv6 header', data: v6.slice(0, 14 + 30) },
  ];
}

function kernelCorpus(): NamedPacket[] {
  const out: NamedPacket[] = [];
  for (const [i, dport] of [9000, 9001, 9002, 9003].entries()) {
    out.push({ name: `ipv4 udp :${dport}`, data: frame(0x0800, ipv4(17, l4(17, 40000 + i, dport, 18 + i * 50))) });
  }
  out.push({ name: 'ipv4 tcp', data: frame(0x0800, ipv4(6, l4(6, 40100, 443, 100))) });
  out.push({ name: 'ipv4 icmp', data: frame(0x0800, ipv4(1, l4(1, 7, 1, 56))) });
  out.push({ name: 'ipv6 udp', data: frame(0x86dd, ipv6(17, l4(17, 40200, 9001, 40))) });
  out.push({ name: 'ipv6 tcp', data: frame(0x86dd, ipv6(6, l4(6, 40300, 80, 300))) });
  out.push({ name: 'ipv6 icmp', data: frame(0x86dd, ipv6(58, l4(58, 9, 1, 32))) });
  out.push({ name: 'vlan ipv4 udp', data: frame(0x0800, ipv4(17, l4(17, 40400, 9002, 30)), 100) });
  out.push({ name: 'arp', data: frame(0x0806, arp()) });
  out.push({ name: 'large ipv4 udp (1500 B)', data: frame(0x0800, ipv4(17, l4(17, 40500, 9003, 1500 - 28))) });
  // BPF_PROG_TEST_RUN refuses frames whose IPv4/IPv6 header is cut (EINVAL): these are cut after it.
  const full = frame(0x0800, ipv4(17, l4(17, 40600, 9000, 64)));
  out.push({ name: 'truncated in the udp header', data: full.slice(0, 14 + 20 + 3) });
  const tcp = frame(0x0800, ipv4(6, l4(6, 40650, 8080, 64)));
  out.push({ name: 'truncated in the tcp header', data: tcp.slice(0, 14 + 20 + 10) });
  const v6 = frame(0x86dd, ipv6(6, l4(6, 40700, 22, 10)));
  out.push({ name: 'truncated after the ipv6 header', data: v6.slice(0, 14 + 40 + 2) });
  return out;
}
