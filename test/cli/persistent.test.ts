/**
 * The commands for long-lived setups: attach (stays attached, maps pinned), listen (two listeners on
 * two channels of one pinned map, also a map pinned by iproute2's tc), list, detach (also after a
 * SIGKILL), gen and demo — each leaving nothing behind.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { withNetns, createNetns, assertTcClean, BpffsGuard, type TestNetns } from '../kernel/helpers/index.js';
import { cli, startCli, waitAttached, ROOT, CLI, type RunningCli } from './support.js';

const guard = new BpffsGuard();
after(() => assert.deepEqual(guard.restore(), [], 'bpffs entries left behind'));

const OBJ = `${ROOT}/bpf/tc_events.bpf.o`;

/** Start `listen` processes, send traffic to their ports until each has `n` events, stop them. */
async function listenOnChannels(ns: TestNetns, pin: string, channels: number[], n: number): Promise<Record<number, any[]>> {
  const listeners: [number, RunningCli][] = channels.map((k) => [k, startCli(['listen', pin, '--channel', String(k), '--btf', OBJ, '--count', String(n)], { netns: ns.path })]);
  const done = Promise.all(listeners.map(([, l]) => l.exited));
  const deadline = Date.now() + 15_000;
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished && Date.now() < deadline) {
    for (const k of channels) ns.sendUdp(1, { port: 9000 + k, from: 'peer' });
    await new Promise((r) => setTimeout(r, 100));
  }
  const codes = await done;
  const out: Record<number, any[]> = {};
  listeners.forEach(([k, l], i) => {
    assert.equal(codes[i], 0, `listener ${k}: ${l.stderr()}`);
    out[k] = l.stdout().trim().split('\n').map((line) => JSON.parse(line));
  });
  return out;
}

test('attach --pin, two listeners on two channels, list, detach: then nothing is left', async () => {
  const pinDir = `/sys/fs/bpf/bpfpipe-test-cli-${process.pid}`;
  try {
    await withNetns(async (ns) => {
      const a = cli(['attach', OBJ, '--iface', ns.dev, '--pin', pinDir], { netns: ns.path });
      assert.equal(a.status, 0, a.stderr);
      assert.match(a.stdout, new RegExp(`attached tc_events to ${ns.dev} ingress \\(tcx, link pinned at `));
      assert.match(a.stdout, new RegExp(`map events: ${pinDir}/events`));
      assert.equal(fs.statSync(`${pinDir}/events`).mode & 0o777, 0o600);
      const got = await listenOnChannels(ns, `${pinDir}/events`, [0, 1], 3);
      for (const k of [0, 1]) {
        assert.equal(got[k]!.length, 3);
        // A channel gets only its own events (other traffic, e.g. IPv6 ND, goes to channel 0).
        if (k === 1) assert.ok(got[k]!.every((r) => r.event.dport === 9001 && r.event.channel === 1), JSON.stringify(got[k]));
      }
      const list = cli(['list', '--iface', ns.dev, '--json'], { netns: ns.path });
      assert.equal(list.status, 0, list.stderr);
      const l = JSON.parse(list.stdout);
      assert.equal(l.attachments.length, 1);
      assert.equal(l.attachments[0].ours, true);
      assert.equal(l.attachments[0].program.name, 'tc_events');
      assert.ok(l.pinnedMaps.some((m: { path: string }) => m.path === `${pinDir}/events`));
      const d = cli(['detach', '--iface', ns.dev], { netns: ns.path });
      assert.equal(d.status, 0, d.stderr);
      assert.match(d.stdout, /detached tc_events \(tcx, ingress\)/);
      assert.match(d.stdout, new RegExp(`unpinned ${pinDir}/events`));
      assertTcClean(ns);
      assert.equal(fs.existsSync(pinDir), false, 'the pin directory attach created is gone');
    });
  } finally {
    fs.rmSync(pinDir, { recursive: true, force: true });
  }
});

test('listen on a map pinned by tc (iproute2): two listeners on two channels at once', async () => {
  const tcPins = new BpffsGuard();
  try {
    await withNetns(async (ns) => {
      ns.run('tc', ['qdisc', 'add', 'dev', ns.dev, 'clsact']);
      ns.run('tc', ['filter', 'add', 'dev', ns.dev, 'ingress', 'bpf', 'da', 'obj', OBJ, 'sec', 'tc']);
      assert.ok(fs.existsSync('/sys/fs/bpf/tc/globals/events'), 'tc pinned the map where iproute2 pins');
      const got = await listenOnChannels(ns, '/sys/fs/bpf/tc/globals/events', [0, 1], 2);
      assert.ok(got[1]!.every((r) => r.event.dport === 9001 && r.event.channel === 1));
      assert.ok(got[0]!.every((r) => r.event.channel === 0));
      // Our detach leaves tc's filter alone: it is not ours.
      const d = cli(['detach', '--iface', ns.dev], { netns: ns.path });
      assert.match(d.stdout, /nothing of bpfpipe was attached/);
      assert.match(ns.run('tc', ['filter', 'show', 'dev', ns.dev, 'ingress']), /tc_events/);
    });
  } finally {
    tcPins.restore(); // the pins and directories tc created
  }
});

test('a run killed with SIGKILL leaves its clsact filter and pins; detach removes them', async () => {
  await withNetns(async (ns) => {
    const run = startCli(['run', OBJ, '--iface', ns.dev, '--attach', 'clsact', '--format', 'none'], { netns: ns.path });
    const deadline = Date.now() + 10_000;
    while (!ns.tryRun('tc', ['filter', 'show', 'dev', ns.dev, 'ingress']).stdout.includes('bpfpipe:tc_events') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 200)); // the run manifest is written after the attach
    run.child.kill('SIGKILL');
    await run.exited;
    assert.match(ns.run('tc', ['filter', 'show', 'dev', ns.dev, 'ingress']), /bpfpipe:tc_events/);
    assert.ok(fs.existsSync('/sys/fs/bpf/tc/globals/events'));
    const d = cli(['detach', '--iface', ns.dev], { netns: ns.path });
    assert.equal(d.status, 0, d.stderr);
    assert.match(d.stdout, /detached tc_events \(clsact, ingress\)/);
    assert.match(d.stdout, /unpinned \/sys\/fs\/bpf\/tc\/globals\/events/);
    assertTcClean(ns);
    assert.equal(fs.existsSync('/sys/fs/bpf/tc/globals/events'), false);
  });
});

test('gen prints TypeScript that type-checks', () => {
  const r = cli(['gen', OBJ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /export interface Event \{/);
  assert.match(r.stdout, /export function decodeEvent\(/);
  const dir = fs.mkdtempSync('/tmp/bpfpipe-gen-');
  try {
    fs.writeFileSync(`${dir}/event.ts`, r.stdout);
    execFileSync(process.execPath, [`${ROOT}/node_modules/typescript/bin/tsc`, '--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', `${dir}/event.ts`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('demo: events on all four channels, nothing lost, no namespace or pin left', () => {
  const before = execFileSync('ip', ['netns', 'list']).toString();
  const r = cli(['demo', '--duration', '2'], { timeoutMs: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const m = /received (\d+), lost (\d+)/.exec(r.stderr);
  assert.ok(m && Number(m[1]) > 100 && m[2] === '0', r.stderr);
  for (const k of [0, 1, 2, 3]) assert.match(r.stdout, new RegExp(`ch${k} udp 198\\.18\\.0\\.1:40000 -> 198\\.18\\.0\\.2:900${k}`));
  assert.equal(execFileSync('ip', ['netns', 'list']).toString(), before);
});

test('demo without root: the userspace runtime, said so; every synthetic packet is an event on its channel, nothing lost', () => {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, CLI, 'demo', '--duration', '1.5', '--rate', '400'], { cwd: '/', encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /without CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON \(not root\): running tc_events in bpfpipe's userspace eBPF runtime/);
  const m = /sent (\d+) packets, received (\d+) events .*lost 0; closing the runtime/.exec(r.stderr);
  assert.ok(m, r.stderr);
  assert.ok(Number(m[1]) > 100, r.stderr);
  assert.equal(m[2], m[1], 'one event per packet');
  for (const k of [0, 1, 2, 3]) assert.match(r.stdout, new RegExp(`ch${k} udp 198\\.18\\.0\\.1:40000 -> 198\\.18\\.0\\.2:900${k}`));
});

test('a run killed with SIGKILL whose namespace is then deleted: list names its pins, detach --gone removes them and nothing else', async () => {
  const manifests = () => (fs.existsSync('/run/bpfpipe/attach') ? fs.readdirSync('/run/bpfpipe/attach') : []);
  const before = new Set(manifests());
  const ns = createNetns();
  let destroyed = false;
  try {
    const run = startCli(['run', OBJ, '--iface', ns.dev, '--format', 'none'], { netns: ns.path });
    let pins: string[] = [];
    for (const deadline = Date.now() + 10_000; ; ) {
      const mine = manifests().filter((f) => !before.has(f));
      if (mine.length === 1) {
        pins = (JSON.parse(fs.readFileSync(`/run/bpfpipe/attach/${mine[0]}`, 'utf8')) as { pins: string[] }).pins;
        if (pins.length > 0 && pins.every((p) => fs.existsSync(p)) && ns.tryRun('bpftool', ['-j', 'link', 'show']).stdout.includes('"prog_id"')) break;
      }
      if (run.child.exitCode !== null) throw new Error(`run exited early: ${run.stderr()}`);
      if (Date.now() > deadline) throw new Error('not attached within 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    run.child.kill('SIGKILL');
    await run.exited;
    ns.destroy();
    destroyed = true;
    await withNetns(async (live) => {
      // A run that is alive in a namespace that exists keeps everything.
      const other = startCli(['run', OBJ, '--iface', live.dev, '--format', 'none', '--pin', `/sys/fs/bpf/bpfpipe-test-gone-${process.pid}`], { netns: live.path });
      try {
        await waitAttached(live, other);
        const l = cli(['list']);
        assert.equal(l.status, 0, l.stderr);
        assert.match(l.stdout, /left behind in deleted network namespaces \(bpfpipe detach --gone removes them\):\n  tc_events on \S+ ingress by bpfpipe run \(pid \d+\): /);
        for (const p of pins) assert.ok(l.stdout.includes(p), `list names ${p}`);
        const d = cli(['detach', '--gone']);
        assert.equal(d.status, 0, d.stderr);
        assert.match(d.stdout, /removed what bpfpipe run \(pid \d+\) left of tc_events on \S+ ingress in a deleted network namespace: /);
        for (const p of pins) assert.equal(fs.existsSync(p), false, `${p} removed`);
        assert.deepEqual(manifests().filter((f) => !before.has(f)).length, 0, 'no manifest of the killed run left');
        assert.ok(fs.existsSync(`/sys/fs/bpf/bpfpipe-test-gone-${process.pid}/events`), 'the live run keeps its pins');
        assert.match(cli(['detach', '--gone']).stdout, /nothing was left behind in deleted network namespaces/);
      } finally {
        other.child.kill('SIGINT');
        await other.exitWithin(5000);
        fs.rmSync(`/sys/fs/bpf/bpfpipe-test-gone-${process.pid}`, { recursive: true, force: true });
      }
    });
  } finally {
    if (!destroyed) ns.destroy();
  }
});

test('attach under `ip netns exec` (a private bpffs whose pins would vanish) is refused with the fix, and leaves nothing', async () => {
  await withNetns(async (ns) => {
    const pin = `/sys/fs/bpf/bpfpipe-test-ipexec-${process.pid}`;
    const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, CLI, 'attach', OBJ, '--iface', ns.dev, '--pin', pin], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /ip netns exec.*vanish.*nsenter --net=/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assertTcClean(ns);
    assert.equal(fs.existsSync(pin), false);
    assert.deepEqual(fs.existsSync('/run/bpfpipe/attach') ? fs.readdirSync('/run/bpfpipe/attach') : [], [], 'no manifest left');
    const l = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, CLI, 'listen', `${pin}/events`], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    assert.equal(l.status, 2, l.stderr);
    assert.match(l.stderr, /nothing is pinned.*use nsenter --net=/);
  });
});
