/** Ethernet/IPv4/UDP frames as the demo's traffic puts them on the wire (for the userspace runtime). */

function checksum(b: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** One frame from `src`:sport to `dst`:dport with `payload` bytes of 'a'. */
export function udpFrame(src: string, dst: string, sport: number, dport: number, payload: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + payload);
  const v = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0); // locally administered MACs
  v.setUint16(12, 0x0800);
  f[14] = 0x45;
  v.setUint16(16, 20 + 8 + payload);
  v.setUint16(18, sport); // an id that differs per flow
  v.setUint16(20, 0x4000); // don't fragment
  f[22] = 64;
  f[23] = 17;
  f.set(src.split('.').map(Number), 26);
  f.set(dst.split('.').map(Number), 30);
  v.setUint16(24, checksum(f, 14, 34));
  v.setUint16(34, sport);
  v.setUint16(36, dport);
  v.setUint16(38, 8 + payload);
  f.fill(0x61, 42);
  return f;
}
