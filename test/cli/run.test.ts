/**
 * The bpfpipe command against the real kernel, run as a separate process in its own network
 * namespace: every output format, --count, exit codes, signals, and nothing left behind.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { withNetns, assertTcClean, BpffsGuard } from '../kernel/helpers/index.js';
import { cli, startCli, repeatUntil, waitAttached, ROOT } from './support.js';

const guard = new BpffsGuard([...['/sys/fs/bpf/tc', '/sys/fs/bpf/ip', '/sys/fs/bpf/xdp', '/sys/fs/bpf/bpfpipe']]);
after(() => {
  const left = guard.restore();
  assert.deepEqual(left, [], 'bpffs entries left behind');
});

const OBJ = path.join(ROOT, 'bpf/tc_events.bpf.o');

test('every subcommand has help and exits 0', () => {
  for (const sub of ['run', 'attach', 'listen', 'detach', 'list', 'gen', 'demo']) {
    const r = cli([sub, '--help']);
    assert.equal(r.status, 0, `${sub} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: bpfpipe ${sub}`));
  }
  assert.equal(cli(['--version']).status, 0);
});

test('bad usage and bad input exit 2 with one line naming the cause', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfpipe-cli-'));
  try {
    const junk = path.join(tmp, 'junk.o');
    fs.writeFileSync(junk, 'not an object');
    await withNetns(async (ns) => {
      const cases: [string[], RegExp][] = [
        [['run', '/nonexistent.o', '--iface', ns.dev], /cannot read object file/],
        [['run', junk, '--iface', ns.dev], /EBPF_BAD_OBJECT/],
        [['run', OBJ, '--iface', ns.dev, '--prog', 'nope'], /program 'nope' is not in the object \(programs: tc_events\)/],
        [['run', OBJ, '--iface', ns.dev, '--map', 'counters'], /not a perf event array or a ring buffer/],
        [['run', OBJ, '--iface', 'nosuchdev0'], /interface 'nosuchdev0' does not exist/],
        [['run', OBJ, '--iface', ns.dev, '--struct', 'nope', '--count', '1'], /no struct or union 'nope'/],
        [['run', path.join(ROOT, 'bpf/rejected.bpf.o'), '--iface', ns.dev], /verifier rejected program 'rejected': .*outside of the packet/],
        [['run', OBJ], /required option '--iface/],
        [['run', OBJ, '--iface', ns.dev, '--count', '0'], /--count must be a positive integer/],
        [['run', OBJ, '--iface', ns.dev, '--format', 'xml'], /must be one of json, hex, pcapng, none/],
        [['listen', '/sys/fs/bpf/no-such-pin'], /nothing is pinned/],
        [['listen', '/etc/hostname'], /not on bpffs|not a pinned BPF object/],
        [['gen', junk], /EBPF_BAD_OBJECT/],
        [['frobnicate'], /unknown command/],
      ];
      for (const [args, re] of cases) {
        const r = cli(args, { netns: ns.path });
        assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
        assert.match(r.stderr, re, args.join(' '));
        assert.doesNotMatch(r.stderr, /\n\s+at /, `${args.join(' ')}: no stack trace without --debug`);
      }
      assertTcClean(ns);
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('run --format json: one decoded object per line, --count stops, summary on stderr, nothing left', async () => {
  await withNetns(async (ns) => {
    const run = startCli(['run', OBJ, '--iface', ns.dev, '--count', '5', '--format', 'json'], { netns: ns.path });
    const code = await repeatUntil(run.exited, () => ns.sendUdp(2, { port: 9000, from: 'peer' }));
    assert.equal(code, 0, run.stderr());
    const lines = run.stdout().trim().split('\n');
    assert.equal(lines.length, 5);
    const udp = lines.map((l) => JSON.parse(l)).filter((r) => r.event?.ip_proto === 17);
    assert.ok(udp.length > 0, run.stdout());
    for (const r of udp) {
      assert.equal(typeof r.cpu, 'number');
      assert.equal(typeof r.ts, 'number');
      assert.equal(r.event.dport, 9000);
      assert.equal(r.event.tag, 'bpfpipe');
      assert.equal(r.packet.udp.dport, 9000);
      assert.equal(r.packet.ipv4.dst, ns.addr);
      assert.equal(r.packet.len, r.event.len);
      assert.equal(r.packet.hex.length, 2 * r.packet.len);
    }
    assert.match(run.stderr(), /received 5, lost 0/);
    assertTcClean(ns);
  });
});

test('run --format pcapng opens in tshark; hex and none work', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfpipe-cli-'));
  try {
    await withNetns(async (ns) => {
      const file = path.join(tmp, 'out.pcapng');
      const run = startCli(['run', OBJ, '--iface', ns.dev, '--count', '4', '--format', 'pcapng', '--output', file], { netns: ns.path });
      // (port 9000: the program writes dport 9000+k to channel k, and `run` reads channel 0; without the
      // test's datagrams, only the peer's ARP and IPv6 neighbour traffic would arrive, if enough of it did)
      assert.equal(await repeatUntil(run.exited, () => ns.sendUdp(2, { port: 9000, from: 'peer' })), 0, run.stderr());
      const fields = execFileSync('tshark', ['-r', file, '-n', '-T', 'fields', '-e', 'frame.len', '-e', 'frame.comment', '-e', 'udp.dstport', '-e', 'eth.type'])
        .toString().trim().split('\n').map((l) => l.split('\t'));
      assert.equal(fields.length, 4);
      let udp = 0;
      for (const [len, comment, dport] of fields) {
        const c = JSON.parse(comment!);
        assert.equal(Number(len), c.event.len);
        if (c.event.ip_proto === 17) {
          assert.equal(Number(dport), 9000);
          assert.equal(c.event.dport, 9000);
          udp++;
        }
      }
      assert.ok(udp > 0, `the test's datagrams are in the capture: ${fields.map((f) => f.join(' ')).join('; ')}`);
      const hex = startCli(['run', OBJ, '--iface', ns.dev, '--count', '2', '--format', 'hex'], { netns: ns.path });
      assert.equal(await repeatUntil(hex.exited, () => ns.sendUdp(1, { port: 9000, from: 'peer' })), 0, hex.stderr());
      assert.match(hex.stdout(), /^cpu \d+ slot \d+ ts \d+ size \d+\n  event \{/);
      assert.match(hex.stdout(), /\n    0000  [0-9a-f]{2} /);
      const none = startCli(['run', OBJ, '--iface', ns.dev, '--count', '3', '--format', 'none'], { netns: ns.path });
      assert.equal(await repeatUntil(none.exited, () => ns.sendUdp(1, { from: 'peer' })), 0, none.stderr());
      assert.equal(none.stdout(), '');
      assert.match(none.stderr(), /received 3, lost 0/);
      assert.doesNotMatch(none.stderr(), /other channels/);
      assertTcClean(ns);
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('run says how many events went to channels it does not read, and which option reads them', async () => {
  await withNetns(async (ns) => {
    const run = startCli(['run', OBJ, '--iface', ns.dev, '--count', '3', '--format', 'none'], { netns: ns.path });
    let sent = 0;
    const code = await repeatUntil(run.exited, () => {
      ns.sendUdp(2, { port: 9003, from: 'peer' }); // channel 3
      ns.sendUdp(1, { port: 9000, from: 'peer' });
      sent += 2;
    });
    assert.equal(code, 0, run.stderr());
    const lines = run.stderr().trim().split('\n');
    assert.match(lines.at(-2)!, /^received 3, lost 0/);
    const note = lines.at(-1)!.match(/^bpfpipe: (\d+) event\(s\) went to other channels of the map, which no reader took \((\d+) on channel 3\); this command reads channel 0: --channel 3 reads channel 3$/);
    assert.ok(note, lines.at(-1));
    // (datagrams sent before the program was attached, or after the third event, are not counted)
    assert.ok(Number(note[1]) >= 1 && Number(note[1]) <= sent, `${note[1]} of ${sent} sent to channel 3`);
    assert.equal(note[1], note[2]);
    assertTcClean(ns);
  });
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  for (const mode of ['tcx', 'clsact']) {
    test(`run --attach ${mode}, then ${signal}: exits 0 within 1 s, summary printed, nothing left`, async () => {
      await withNetns(async (ns) => {
        const run = startCli(['run', OBJ, '--iface', ns.dev, '--attach', mode, '--format', 'none'], { netns: ns.path });
        await waitAttached(ns, run); // (`bpftool net show` does not name a tcx link's program)
        ns.sendUdp(3, { from: 'peer' });
        await new Promise((r) => setTimeout(r, 300));
        const t0 = Date.now();
        run.child.kill(signal);
        const code = await run.exitWithin(5000);
        assert.ok(Date.now() - t0 < 1000, `exited in ${Date.now() - t0} ms`);
        assert.equal(code, 0, run.stderr());
        assert.match(run.stderr(), /received \d+, lost 0/);
        assertTcClean(ns);
      });
    });
  }
}
