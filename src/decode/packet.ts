/**
 * Packet decoding for the bytes a program appends to its events: Ethernet, 802.1Q/802.1ad VLAN tags,
 * ARP, IPv4, IPv6 (extension headers skipped), TCP, UDP, ICMP, ICMPv6. Events usually carry only the
 * first 64–128 bytes of a packet: every field that fits is decoded, the layer where bytes ran out is
 * named in `truncated`, and decoding never throws.
 */

export interface DecodedPacket {
  eth?: { dst: string; src: string; type: number };
  vlan?: { id: number; pcp: number; dei: number; type: number }[];
  arp?: { op: number; senderMac: string; senderIp: string; targetMac: string; targetIp: string };
  ipv4?: {
    version: number; ihl: number; tos: number; len: number; id: number; flags: number; fragOffset: number;
    ttl: number; proto: number; checksum: number; src: string; dst: string;
  };
  ipv6?: { tc: number; flow: number; plen: number; next: number; hlim: number; src: string; dst: string };
  tcp?: { sport: number; dport: number; seq: number; ack: number; flags: string; flagBits: number; win: number; checksum: number; urg: number };
  udp?: { sport: number; dport: number; len: number; checksum: number };
  icmp?: { type: number; code: number; checksum: number };
  icmpv6?: { type: number; code: number; checksum: number };
  /** The layer that was cut short by the end of the captured bytes. */
  truncated?: string;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function mac(b: Uint8Array, o: number): string {
  return `${HEX[b[o]!]}:${HEX[b[o + 1]!]}:${HEX[b[o + 2]!]}:${HEX[b[o + 3]!]}:${HEX[b[o + 4]!]}:${HEX[b[o + 5]!]}`;
}

export function ipv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** RFC 5952 text: lower case, leading zeros dropped, the longest run (>= 2) of zero groups as "::". */
export function ipv6(b: Uint8Array, o: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // IPv4-mapped addresses keep the dotted tail (::ffff:a.b.c.d).
  if (bestStart === 0 && bestLen === 5 && g[5] === 0xffff) return `::ffff:${ipv4(b, o + 12)}`;
  if (bestLen < 2) return g.map((x) => x.toString(16)).join(':');
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}

const TCP_FLAGS = 'FSRPAUEC';

const EXT_HEADERS = new Set([0 /* hop-by-hop */, 43 /* routing */, 44 /* fragment */, 60 /* destination options */, 51 /* AH */]);

export type LinkType = 'ethernet' | 'raw';

/** Decode the layers of `b` (Ethernet by default; 'raw' starts at the IP header). */
export function decodePacket(b: Uint8Array, linkType: LinkType = 'ethernet'): DecodedPacket {
  const out: DecodedPacket = {};
  const n = b.byteLength;
  let o = 0;
  let type: number;
  if (linkType === 'raw') {
    if (n < 1) return { truncated: 'ip' };
    type = b[0]! >> 4 === 6 ? 0x86dd : 0x0800;
  } else {
    if (n < 14) return { truncated: 'eth' };
    type = (b[12]! << 8) | b[13]!;
    out.eth = { dst: mac(b, 0), src: mac(b, 6), type };
    o = 14;
    while (type === 0x8100 || type === 0x88a8) {
      if (n < o + 4) {
        out.truncated = 'vlan';
        return out;
      }
      const tci = (b[o]! << 8) | b[o + 1]!;
      type = (b[o + 2]! << 8) | b[o + 3]!;
      (out.vlan ??= []).push({ id: tci & 0xfff, pcp: tci >> 13, dei: (tci >> 12) & 1, type });
      o += 4;
    }
  }
  if (type === 0x0806) return arp(b, o, out);
  let proto: number;
  if (type === 0x0800) {
    if (n < o + 20) {
      out.truncated = 'ipv4';
      return out;
    }
    const ihl = b[o]! & 0xf;
    const flagsFrag = (b[o + 6]! << 8) | b[o + 7]!;
    proto = b[o + 9]!;
    out.ipv4 = {
      version: b[o]! >> 4,
      ihl,
      tos: b[o + 1]!,
      len: (b[o + 2]! << 8) | b[o + 3]!,
      id: (b[o + 4]! << 8) | b[o + 5]!,
      flags: flagsFrag >> 13,
      fragOffset: flagsFrag & 0x1fff,
      ttl: b[o + 8]!,
      proto,
      checksum: (b[o + 10]! << 8) | b[o + 11]!,
      src: ipv4(b, o + 12),
      dst: ipv4(b, o + 16),
    };
    if (ihl < 5) return out;
    if (out.ipv4.fragOffset !== 0) return out; // later fragments carry no L4 header
    o += ihl * 4;
  } else if (type === 0x86dd) {
    if (n < o + 40) {
      out.truncated = 'ipv6';
      return out;
    }
    const w = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
    proto = b[o + 6]!;
    out.ipv6 = { tc: (w >>> 20) & 0xff, flow: w & 0xfffff, plen: (b[o + 4]! << 8) | b[o + 5]!, next: proto, hlim: b[o + 7]!, src: ipv6(b, o + 8), dst: ipv6(b, o + 24) };
    o += 40;
    for (let hops = 0; EXT_HEADERS.has(proto) && hops < 8; hops++) {
      if (n < o + 8) {
        out.truncated = 'ipv6-ext';
        return out;
      }
      const next = b[o]!;
      if (proto === 44) {
        if (((b[o + 2]! << 8) | b[o + 3]!) & 0xfff8) return out; // not the first fragment
        o += 8;
      } else if (proto === 51) {
        o += (b[o + 1]! + 2) * 4;
      } else {
        o += (b[o + 1]! + 1) * 8;
      }
      proto = next;
    }
  } else {
    return out;
  }
  return l4(b, o, proto, out);
}

function arp(b: Uint8Array, o: number, out: DecodedPacket): DecodedPacket {
  // Ethernet/IPv4 ARP: htype 1, ptype 0x0800, hlen 6, plen 4.
  if (b.byteLength < o + 28) {
    out.truncated = 'arp';
    return out;
  }
  out.arp = { op: (b[o + 6]! << 8) | b[o + 7]!, senderMac: mac(b, o + 8), senderIp: ipv4(b, o + 14), targetMac: mac(b, o + 18), targetIp: ipv4(b, o + 24) };
  return out;
}

function l4(b: Uint8Array, o: number, proto: number, out: DecodedPacket): DecodedPacket {
  const n = b.byteLength;
  const u16 = (p: number) => (b[p]! << 8) | b[p + 1]!;
  const u32 = (p: number) => ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  switch (proto) {
    case 6: {
      if (n < o + 20) {
        out.truncated = 'tcp';
        return out;
      }
      const bits = ((b[o + 12]! & 1) << 8) | b[o + 13]!;
      let flags = '';
      for (let i = 0; i < 8; i++) if (bits & (1 << i)) flags += TCP_FLAGS[i];
      out.tcp = { sport: u16(o), dport: u16(o + 2), seq: u32(o + 4), ack: u32(o + 8), flags, flagBits: bits, win: u16(o + 14), checksum: u16(o + 16), urg: u16(o + 18) };
      return out;
    }
    case 17:
      if (n < o + 8) {
        out.truncated = 'udp';
        return out;
      }
      out.udp = { sport: u16(o), dport: u16(o + 2), len: u16(o + 4), checksum: u16(o + 6) };
      return out;
    case 1:
    case 58:
      if (n < o + 4) {
        out.truncated = proto === 1 ? 'icmp' : 'icmpv6';
        return out;
      }
      out[proto === 1 ? 'icmp' : 'icmpv6'] = { type: b[o]!, code: b[o + 1]!, checksum: u16(o + 2) };
      return out;
    default:
      return out;
  }
}

/** A readable dump like `xxd`: offset, 16 bytes of hex in two groups, ASCII. */
export function hexdump(bytes: Uint8Array, indent = ''): string {
  let s = '';
  for (let o = 0; o < bytes.byteLength; o += 16) {
    let hex = '';
    let ascii = '';
    for (let i = 0; i < 16; i++) {
      if (o + i < bytes.byteLength) {
        const c = bytes[o + i]!;
        hex += HEX[c] + ' ';
        ascii += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
      } else {
        hex += '   ';
      }
      if (i === 7) hex += ' ';
    }
    s += `${indent}${o.toString(16).padStart(4, '0')}  ${hex} ${ascii}\n`;
  }
  return s;
}
