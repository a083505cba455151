/**
 * bpfpipe replay: a capture run through the userspace runtime, without root. Events equal what the
 * runtime library gives for the same packets (which the differential kernel test ties to the kernel),
 * every output format works (pcapng opens in tshark), and bad input is one line with exit 2.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PcapngWriter } from '../../src/index.js';
import { packetCorpus } from '../support/packets.js';
import { cli, CLI, ROOT } from './support.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfpipe-replay-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const corpus = packetCorpus();
const T0 = 1_700_000_000_000_000_000n;

async function capture(): Promise<string> {
  const parts: Uint8Array[] = [];
  const w = new PcapngWriter(async (b) => void parts.push(b.slice()));
  const ifc = w.addInterface({ name: 'corpus' });
  corpus.forEach((p, i) => w.writePacket({ interfaceId: ifc, timestampNs: T0 + BigInt(i) * 1000n, data: p.data, originalLength: p.data.byteLength }));
  await w.flush();
  const file = path.join(dir, 'corpus.pcapng');
  fs.writeFileSync(file, Buffer.concat(parts));
  return file;
}

test('replay as an unprivileged user: every packet of the capture becomes its event, capture time as bpf_ktime_get_ns', async () => {
  const file = await capture();
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(file, 0o644);
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, CLI, 'replay', `${ROOT}/bpf/tc_events.bpf.o`, '--pcap', file, '--slots', '0,1,2,3'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, corpus.length);
  assert.match(r.stderr, new RegExp(`received ${corpus.length}, lost 0, packets ${corpus.length} \\(userspace runtime\\)`));
  const seqs = lines.map((l) => Number(l.event.seq)).sort((a, b) => a - b);
  assert.deepEqual(seqs, corpus.map((_, i) => i));
  for (const l of lines) {
    const i = Number(l.event.seq);
    assert.equal(l.event.len, corpus[i]!.data.byteLength, corpus[i]!.name);
    assert.equal(BigInt(l.event.ts), T0 + BigInt(i) * 1000n, 'bpf_ktime_get_ns is the capture time');
  }
  const udp9001 = lines.find((l) => l.event.dport === 9001 && l.event.ip_version === 4);
  assert.equal(udp9001.event.channel, 1);
  // One emulated CPU: channel 1 is slot 1, which hex output names.
  const hex = cli(['replay', 'bpf/tc_events.bpf.o', '--pcap', file, '--slots', '0,1', '--format', 'hex']);
  assert.equal(hex.status, 0, hex.stderr);
  assert.match(hex.stdout, /^cpu 0 slot 1 ts \d+ size \d+\n  event \{.*"dport":9001/m);
});

test('replay: hex, none and pcapng (opens in tshark) outputs; --count stops', async () => {
  const file = await capture();
  const hex = cli(['replay', 'bpf/tc_events.bpf.o', '--pcap', file, '--format', 'hex', '--count', '1']);
  assert.equal(hex.status, 0, hex.stderr);
  assert.match(hex.stdout, /^cpu 0 slot 0 ts 1700000000000000000 size \d+\n  event \{.*"dport":9000/);
  const none = cli(['replay', 'bpf/tc_events.bpf.o', '--pcap', file, '--format', 'none', '--channel', '1']);
  assert.equal(none.status, 0, none.stderr);
  assert.match(none.stderr, /received 2, lost 0/); // channel 1: the IPv4 and IPv6 UDP packets to port 9001
  const out = path.join(dir, 'events.pcapng');
  const p = cli(['replay', 'bpf/tc_events.bpf.o', '--pcap', file, '--format', 'pcapng', '--output', out]);
  assert.equal(p.status, 0, p.stderr);
  const t = spawnSync('tshark', ['-r', out, '-T', 'fields', '-e', 'udp.dstport'], { encoding: 'utf8' });
  assert.equal(t.status, 0, t.stderr);
  assert.ok(t.stdout.split('\n').includes('9000'), t.stdout);
});

test('replay bad input: a non-capture, a missing file, and a program reading past the packet: one line, exit 2', async () => {
  const file = await capture();
  for (const [args, re] of [
    [['replay', 'bpf/tc_events.bpf.o', '--pcap', '/etc/hostname'], /not a pcap or pcapng capture/],
    [['replay', 'bpf/tc_events.bpf.o', '--pcap', '/nonexistent.pcap'], /cannot read capture '\/nonexistent.pcap': no such file/],
    [['replay', 'bpf/rejected.bpf.o', '--pcap', file], /program 'rejected' instruction \d+: load of 4 bytes .* past the end of the packet/],
    [['replay', 'bpf/linking.bpf.o', '--prog', 'link_main', '--pcap', file], /no perf event array or ring buffer map/],
  ] as [string[], RegExp][]) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
