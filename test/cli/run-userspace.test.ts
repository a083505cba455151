/**
 * bpfpipe run --userspace: the interface's frames (AF_PACKET) through the userspace runtime, as a user
 * with only CAP_NET_RAW; nothing is loaded or attached in the kernel, and the events are the ones the
 * program emits for that traffic. Without CAP_NET_RAW: one line, exit 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { withNetns, assertTcClean, tcState } from '../kernel/helpers/index.js';
import { CLI, ROOT, repeatUntil } from './support.js';

const asNobody = (caps: string) => ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=-all${caps}`, ...(caps ? [`--ambient-caps=${caps.slice(1)}`] : [])];

test('run --userspace as a user with only CAP_NET_RAW: UDP to port 9001 becomes channel-1 events of the program; the kernel is untouched', async () => {
  await withNetns(async (ns) => {
    const args = ['nsenter', `--net=${ns.path}`, ...asNobody(',+net_raw'), process.execPath, CLI, 'run', `${ROOT}/bpf/tc_events.bpf.o`, '--iface', ns.dev, '--userspace', '--channel', '1', '--count', '3'];
    const child = spawn(args[0]!, args.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c))); // (after the last of its output)
    let sawNothingAttached = false;
    const code = await repeatUntil(exited, () => {
      if (err.includes('userspace eBPF runtime')) {
        const s = tcState(ns);
        const tc = (s.net as { tc?: unknown[] }[])[0]?.tc ?? [];
        sawNothingAttached ||= s.ingress.length === 0 && s.egress.length === 0 && tc.length === 0;
      }
      ns.sendUdp(1, { port: 9001, from: 'peer' });
    });
    assert.equal(code, 0, err);
    assert.ok(sawNothingAttached, 'nothing attached in the kernel while it ran');
    assert.match(err, /tc_events runs in bpfpipe's userspace eBPF runtime \(nothing is loaded into the kernel\) over the frames of .* ingress \(AF_PACKET\)/);
    assert.match(err, /received 3, lost 0, packets \d+ \(userspace runtime\)/);
    const events = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(events.length, 3);
    for (const e of events) {
      assert.equal(e.event.dport, 9001);
      assert.equal(e.event.channel, 1);
      assert.deepEqual(e.event.daddr.slice(0, 4), ns.addr.split('.').map(Number));
      assert.equal(e.packet.udp.dport, 9001);
    }
    assertTcClean(ns);
  });
});

test('run --userspace without CAP_NET_RAW, or with kernel-only flags: one line, exit 2', async () => {
  await withNetns(async (ns) => {
    const r = spawnSync('nsenter', [`--net=${ns.path}`, ...asNobody(''), process.execPath, CLI, 'run', `${ROOT}/bpf/tc_events.bpf.o`, '--iface', ns.dev, '--userspace'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /needs CAP_NET_RAW/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    for (const [extra, re] of [[['--pin', '/sys/fs/bpf/x'], /--pin pins kernel maps/], [['--attach', 'tcx'], /--userspace attaches nothing/]] as [string[], RegExp][]) {
      const u = spawnSync('nsenter', [`--net=${ns.path}`, process.execPath, CLI, 'run', `${ROOT}/bpf/tc_events.bpf.o`, '--iface', ns.dev, '--userspace', ...extra], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
      assert.equal(u.status, 2, u.stderr);
      assert.match(u.stderr, re);
    }
  });
});
