import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { decodePacket, hexdump, ipv6 } from './packet.js';
import { FRAMES, text2pcap, tshark, tmpdir, hasTool } from '../pcap/test-support/fixtures.js';

const skip = hasTool('text2pcap') && hasTool('tshark') ? false : 'text2pcap/tshark missing (apt-get install -y tshark)';

type Layers = Record<string, Record<string, unknown>>;
const num = (v: unknown) => Number(v);

test('decoded layers agree with tshark on every frame', { skip }, () => {
  const dir = tmpdir();
  try {
    const file = path.join(dir, 'f.pcap');
    fs.writeFileSync(file, text2pcap(FRAMES.map((f) => f.bytes), false));
    const dissected = tshark(file);
    const seen = new Set<string>();
    FRAMES.forEach((f, i) => {
      const ours = decodePacket(new Uint8Array(f.bytes));
      const l = dissected[i]!._source.layers as Layers;
      for (const k of Object.keys(l)) seen.add(k);
      assert.equal(ours.truncated, undefined, f.name);
      assert.equal(ours.eth!.src, l.eth!['eth.src'], `${f.name} eth.src`);
      assert.equal(ours.eth!.dst, l.eth!['eth.dst'], `${f.name} eth.dst`);
      if (l.vlan) assert.equal(ours.vlan![0]!.id, num(l.vlan['vlan.id']), `${f.name} vlan`);
      if (l.ip) {
        assert.equal(ours.ipv4!.src, l.ip['ip.src']);
        assert.equal(ours.ipv4!.dst, l.ip['ip.dst']);
        assert.equal(ours.ipv4!.proto, num(l.ip['ip.proto']));
        assert.equal(ours.ipv4!.ttl, num(l.ip['ip.ttl']));
        assert.equal(ours.ipv4!.len, num(l.ip['ip.len']));
        assert.equal(ours.ipv4!.id, num(l.ip['ip.id']));
      }
      if (l.ipv6) {
        assert.equal(ours.ipv6!.src, l.ipv6['ipv6.src'], `${f.name} ipv6.src`);
        assert.equal(ours.ipv6!.dst, l.ipv6['ipv6.dst']);
        assert.equal(ours.ipv6!.plen, num(l.ipv6['ipv6.plen']));
        assert.equal(ours.ipv6!.flow, num(l.ipv6['ipv6.flow']));
      }
      if (l.udp) {
        assert.equal(ours.udp!.sport, num(l.udp['udp.srcport']), f.name);
        assert.equal(ours.udp!.dport, num(l.udp['udp.dstport']));
        assert.equal(ours.udp!.len, num(l.udp['udp.length']));
      } else assert.equal(ours.udp, undefined, f.name);
      if (l.tcp) {
        assert.equal(ours.tcp!.sport, num(l.tcp['tcp.srcport']));
        assert.equal(ours.tcp!.dport, num(l.tcp['tcp.dstport']));
        assert.equal(ours.tcp!.seq, num(l.tcp['tcp.seq_raw']));
        assert.equal(ours.tcp!.flagBits, parseInt(String(l.tcp['tcp.flags']), 16));
        assert.equal(ours.tcp!.win, num(l.tcp['tcp.window_size_value']));
      }
      if (l.icmp) assert.deepEqual([ours.icmp!.type, ours.icmp!.code], [num(l.icmp['icmp.type']), num(l.icmp['icmp.code'])]);
      if (l.icmpv6) assert.deepEqual([ours.icmpv6!.type, ours.icmpv6!.code], [num(l.icmpv6['icmpv6.type']), num(l.icmpv6['icmpv6.code'])]);
      if (l.arp) {
        assert.equal(ours.arp!.op, num(l.arp['arp.opcode']));
        assert.equal(ours.arp!.senderIp, l.arp['arp.src.proto_ipv4']);
        assert.equal(ours.arp!.targetIp, l.arp['arp.dst.proto_ipv4']);
      }
    });
    // Every layer kind was compared at least once.
    for (const k of ['eth', 'vlan', 'ip', 'ipv6', 'udp', 'tcp', 'icmp', 'icmpv6', 'arp']) assert.ok(seen.has(k), `tshark dissected no ${k}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('truncated packets give every field that fits and name the layer that was cut', () => {
  const udp = new Uint8Array(FRAMES[0]!.bytes);
  assert.deepEqual(decodePacket(udp.subarray(0, 10)), { truncated: 'eth' });
  assert.equal(decodePacket(udp.subarray(0, 20)).truncated, 'ipv4');
  const cutUdp = decodePacket(udp.subarray(0, 38));
  assert.equal(cutUdp.truncated, 'udp');
  assert.equal(cutUdp.ipv4!.dst, '198.18.0.2');
  for (const f of FRAMES) for (let k = 0; k <= f.bytes.length; k++) decodePacket(new Uint8Array(f.bytes.slice(0, k)));
});

test('IPv6 text follows RFC 5952', () => {
  const a = (hex: string) => new Uint8Array(hex.match(/../g)!.map((x) => parseInt(x, 16)));
  assert.equal(ipv6(a('20010db8000000000000000000000001'), 0), '2001:db8::1');
  assert.equal(ipv6(a('00000000000000000000000000000000'), 0), '::');
  assert.equal(ipv6(a('20010db8000000010000000000000001'), 0), '2001:db8:0:1::1');
  assert.equal(ipv6(a('20010db8000100000001000000000001'), 0), '2001:db8:1:0:1::1'); // first longest run
  assert.equal(ipv6(a('20010db8aaaa0000bbbb0000cccc0001'), 0), '2001:db8:aaaa:0:bbbb:0:cccc:1'); // no run of 2
  assert.equal(ipv6(a('00000000000000000000ffffc6120001'), 0), '::ffff:198.18.0.1');
});

test('random bytes never make decodePacket throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('ethernet', 'raw') as fc.Arbitrary<'ethernet' | 'raw'>, (b, link) => {
      decodePacket(b, link);
    }),
    { numRuns: Number(process.env.BPFPIPE_FUZZ_RUNS ?? 5000), seed: 2 },
  );
});

test('hexdump: offset, two groups of eight, ASCII', () => {
  const d = hexdump(new TextEncoder().encode('bpfpipe event 0123456789'));
  assert.equal(d, '0000  62 70 66 70 69 70 65 20  65 76 65 6e 74 20 30 31  bpfpipe event 01\n0010  32 33 34 35 36 37 38 39                           23456789\n');
});
