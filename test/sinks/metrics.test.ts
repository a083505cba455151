/**
 * --metrics against a real Prometheus: events produced in a netns, Prometheus scrapes the CLI's
 * endpoint every second, and its query API returns the counters the CLI's summary printed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { withNetns, assertTcClean, BpffsGuard } from '../kernel/helpers/index.js';
import { startCli, repeatUntil, ROOT } from '../cli/support.js';
import { Prometheus, freePort, waitFor, parseSummary, endCli } from './support.js';

const guard = new BpffsGuard();
after(() => assert.deepEqual(guard.restore(), [], 'bpffs entries left behind'));

const OBJ = path.join(ROOT, 'bpf/tc_events.bpf.o');

test('run --metrics: Prometheus scrapes the endpoint and its query API returns the summary (received, lost), per CPU and by field', async () => {
  await withNetns((ns) =>
    ns.inside(async () => {
      const port = await freePort();
      const prom = await Prometheus.start(`127.0.0.1:${port}`);
      const N = 60;
      const run = startCli(['run', OBJ, '--iface', ns.dev, '--format', 'none', '--count', String(N), '--metrics', `127.0.0.1:${port}`, '--metrics-linger', '60', '--count-by', 'dport', '--count-by-max', '2']);
      try {
        // The endpoint is up before the program is attached; Prometheus sees it healthy.
        await waitFor('the scrape target to be up', async () => ((await prom.targets()).some((t) => t.health === 'up') ? true : undefined), 20_000, 250);
        const summaryLine = await repeatUntil(
          waitFor('the summary', () => (/received \d+/.test(run.stderr()) ? run.stderr() : undefined), 30_000, 50),
          () => {
            ns.sendUdp(3, { port: 9000, from: 'peer' });
            ns.sendUdp(2, { port: 9001, from: 'peer' });
            ns.sendUdp(1, { port: 9002, from: 'peer' });
          },
          200,
          30_000,
        );
        const endedAt = Date.now() / 1000;
        const s = parseSummary(summaryLine);
        assert.equal(s.received, N);
        // A scrape after the stream ended (the CLI keeps serving for --metrics-linger).
        await waitFor('a scrape after the stream ended', async () => {
          const r = await prom.query('max(timestamp(bpfpipe_events_received_total))');
          return r.length && Number(r[0]!.value[1]) > endedAt + 0.05 ? true : undefined;
        }, 15_000, 250);
        const received = await prom.query('sum(bpfpipe_events_received_total)');
        assert.equal(Number(received[0]!.value[1]), s.received, 'Prometheus received == summary received');
        const lost = await prom.query('sum(bpfpipe_events_lost_total)');
        assert.equal(Number(lost[0]?.value[1] ?? 0), s.lost, 'Prometheus lost == summary lost');
        // Per CPU and channel: every series is labelled, and they add up.
        const perRing = await prom.query('bpfpipe_events_received_total');
        assert.ok(perRing.length >= 1);
        for (const r of perRing) {
          assert.match(r.metric.cpu!, /^\d+$/);
          assert.match(r.metric.channel!, /^\d+$/);
        }
        // Channels: the program writes dport 9000+k to channel k, but `run` reads channel 0 only.
        assert.deepEqual([...new Set(perRing.map((r) => r.metric.channel))], ['0']);
        // --count-by dport with at most 2 values: two values of their own, the rest is "other", and the sum is N.
        const byField = await prom.query('bpfpipe_events_by_field_total{field="dport"}');
        const values = byField.map((r) => r.metric.value!).sort();
        assert.ok(values.length <= 3, `bounded labels: ${values}`);
        assert.equal(byField.reduce((a, r) => a + Number(r.value[1]), 0), N);
        if (values.length === 3) assert.ok(values.includes('other'));
        const batches = await prom.query('bpfpipe_batches_total');
        assert.ok(Number(batches[0]!.value[1]) >= 1);
        const bytes = await prom.query('bpfpipe_event_bytes_total');
        assert.ok(Number(bytes[0]!.value[1]) > N * 80, 'bytes: the struct and packet bytes of every event');
        const fill = await prom.query('bpfpipe_ring_fill_max_ratio');
        assert.ok(fill.length >= 1 && fill.every((r) => Number(r.value[1]) > 0 && Number(r.value[1]) <= 1));
        // SIGINT ends the linger at once.
        const t0 = Date.now();
        run.child.kill('SIGINT');
        assert.equal(await run.exitWithin(5000), 0, run.stderr());
        assert.ok(Date.now() - t0 < 2000, `exited ${Date.now() - t0} ms after SIGINT`);
        assertTcClean(ns);
      } finally {
        await endCli(run);
        await prom.close();
      }
    }),
  );
});

test('--metrics: bad addresses and misuse are usage errors; a port in use is a runtime error naming it', async () => {
  const { cli } = await import('../cli/support.js');
  const bad = cli(['run', OBJ, '--iface', 'nosuchdev0', '--metrics', 'nope']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /HOST:PORT/);
  const orphan = cli(['run', OBJ, '--iface', 'nosuchdev0', '--count-by', 'dport']);
  assert.equal(orphan.status, 2);
  assert.match(orphan.stderr, /--count-by needs --metrics/);
  await withNetns(async (ns) => {
    await ns.inside(async () => {
      const net = await import('node:net');
      const blocker = net.createServer().listen(0, '127.0.0.1');
      await new Promise((r) => blocker.once('listening', r));
      const port = (blocker.address() as import('node:net').AddressInfo).port;
      try {
        const r = cli(['run', OBJ, '--iface', ns.dev, '--metrics', `127.0.0.1:${port}`, '--count', '1']);
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`--metrics: cannot listen on 127.0.0.1:${port}: the port is in use`));
      } finally {
        blocker.close();
      }
      assertTcClean(ns);
    });
  });
});
