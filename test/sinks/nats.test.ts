/**
 * --nats against a real nats-server -js: events produced in a netns reach the stream exactly once
 * (count and content compared with the CLI's own --format json output), also when the server is killed
 * and restarted while events flow; `bpfpipe subscribe` reads them back; a server that stays gone
 * means counted drops, never silent ones.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { withNetns, assertTcClean, BpffsGuard } from '../kernel/helpers/index.js';
import { startCli, repeatUntil, cli, ROOT } from '../cli/support.js';
import { NatsServer, tmpDir, waitFor, sleep, udpTraffic, parseSummary, pauseProcess, endCli } from './support.js';
import { NatsPublisher } from '../../src/index.js';
import { batchOf } from '../../src/ring/batch-builder.js';

const guard = new BpffsGuard();
after(() => assert.deepEqual(guard.restore(), [], 'bpffs entries left behind'));

const OBJ = path.join(ROOT, 'bpf/tc_events.bpf.o');

async function streamState(url: string, stream = 'BPFPIPE') {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(stream)).state;
  } finally {
    await nc.close();
  }
}

/** The CLI is reading once it has counted an event (sends a few datagrams until then). */
async function untilReading(ns: { sendUdp(n: number, o: { port?: number; from?: 'peer' | 'dev' }): void }, out: () => string): Promise<void> {
  await repeatUntil(waitFor('the first event', () => (out().length > 0 ? true : undefined), 20_000, 50), () => ns.sendUdp(1, { port: 9000, from: 'peer' }), 200, 20_000);
}

const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);

test('--nats: every event reaches JetStream exactly once across a nats-server kill and restart mid-stream; subscribe reads the same records', async () => {
  const tmp = tmpDir('nats-test');
  await withNetns((ns) =>
    ns.inside(async () => {
      const nats = await NatsServer.start();
      const out = path.join(tmp, 'events.jsonl');
      const run = startCli(['run', OBJ, '--iface', ns.dev, '--format', 'json', '--output', out, '--nats', nats.url, '--subject', 'bpfpipe.test.restart', '--nats-drain', '30']);
      let traffic: ReturnType<typeof udpTraffic> | undefined;
      try {
        await untilReading(ns, () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : ''));
        // ~8000 events over ~4 s; the server is killed (SIGKILL) after 1.2 s and back 1.5 s later.
        traffic = udpTraffic(ns.peerPath, ns.addr, { chunks: 40, perChunk: 200, pauseS: 0.08 });
        await sleep(1200);
        const before = (await streamState(nats.url)).messages;
        await nats.kill('SIGKILL');
        await sleep(1500);
        await nats.restart();
        assert.equal(await traffic.done, 0, 'traffic sender');
        await sleep(500);
        run.child.kill('SIGINT');
        assert.equal(await run.exitWithin(40_000), 0, run.stderr());
        const s = parseSummary(run.stderr());
        const written = lines(fs.readFileSync(out, 'utf8'));
        assert.equal(written.length - written.filter((l) => l.includes('"lost":')).length, s.received);
        assert.ok(s.received > 8000, `received ${s.received}`);
        assert.equal(s.dropped, 0, run.stderr());
        assert.equal(s.published, written.length, 'every record published');
        assert.match(run.stderr(), /NATS disconnected/);
        assert.match(run.stderr(), /NATS reconnected/);
        assert.ok(before > 0 && before < written.length, `the kill happened mid-stream (${before} of ${written.length} stored before)`);
        // Exactly once in the stream: as many messages as records, whatever was re-published.
        const state = await streamState(nats.url);
        assert.equal(state.messages, written.length, 'stream messages == records written');
        // Content: subscribe (durable) gives back the same records, each once.
        const sub = cli(['subscribe', nats.url, '--subject', 'bpfpipe.test.restart', '--durable', 'check', '--count', String(s.received), '--format', 'json'], { timeoutMs: 60_000 });
        assert.equal(sub.status, 0, sub.stderr);
        assert.match(sub.stderr, new RegExp(`received ${s.received}, lost ${s.lost}`));
        const got = lines(sub.stdout).map((l) => {
          const { subject, ...record } = JSON.parse(l) as { subject: string };
          assert.equal(subject, 'bpfpipe.test.restart');
          return JSON.stringify(record);
        });
        assert.equal(got.length, written.length);
        assert.deepEqual([...got].sort(), [...written].sort(), 'the same records, each exactly once');
        const seqs = new Set(got.map((l) => (JSON.parse(l) as { event: { seq: number } }).event.seq));
        assert.equal(seqs.size, got.length, 'no event twice (by the program\'s own sequence number)');
        // The durable consumer acknowledged everything: a second subscribe finds nothing new.
        const again = cli(['subscribe', nats.url, '--subject', 'bpfpipe.test.restart', '--durable', 'check', '--duration', '1', '--format', 'json'], { timeoutMs: 20_000 });
        assert.equal(again.status, 0, again.stderr);
        assert.equal(again.stdout, '');
        assert.match(again.stderr, /received 0, lost 0/);
        assertTcClean(ns);
      } finally {
        traffic?.child.kill('SIGKILL');
        await endCli(run);
        await nats.close();
      }
    }),
  );
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('--nats-format raw: sample bytes with cpu/ts/slot headers; subscribe hex and pcapng read them', async () => {
  const tmp = tmpDir('nats-raw');
  await withNetns((ns) =>
    ns.inside(async () => {
      const nats = await NatsServer.start();
      const out = path.join(tmp, 'events.jsonl');
      try {
        const N = 20;
        const run = startCli(['run', OBJ, '--iface', ns.dev, '--format', 'json', '--output', out, '--count', String(N), '--nats', nats.url, '--nats-format', 'raw']);
        assert.equal(await repeatUntil(run.exited, () => ns.sendUdp(2, { port: 9000, from: 'peer' })), 0, run.stderr());
        const s = parseSummary(run.stderr());
        assert.deepEqual(s, { received: N, lost: 0, published: N, dropped: 0 });
        const written = lines(fs.readFileSync(out, 'utf8')).map((l) => JSON.parse(l) as { cpu: number; ts: number; packet?: { hex: string } });
        // The default subject: bpfpipe.<host>.<program>.
        const sub = cli(['subscribe', nats.url, '--deliver', 'all', '--count', String(N), '--format', 'json']);
        assert.equal(sub.status, 0, sub.stderr);
        const got = lines(sub.stdout).map((l) => JSON.parse(l) as { subject: string; cpu: number; ts: number; slot: number; data: string });
        assert.equal(got.length, N);
        const byKey = new Map(written.map((w) => [`${w.cpu}/${w.ts}`, w]));
        for (const g of got) {
          assert.match(g.subject, /^bpfpipe\.[A-Za-z0-9_-]+\.tc_events$/);
          assert.equal(typeof g.slot, 'number');
          const w = byKey.get(`${g.cpu}/${g.ts}`);
          assert.ok(w, `a raw message matches a JSON record by cpu and ts: ${JSON.stringify(g)}`);
          // Raw bytes: the struct, then the packet bytes the JSON record shows.
          if (w.packet) assert.ok(g.data.includes(w.packet.hex), 'raw data holds the packet bytes');
        }
        const hex = cli(['subscribe', nats.url, '--deliver', 'all', '--count', '2', '--format', 'hex']);
        assert.equal(hex.status, 0, hex.stderr);
        assert.match(hex.stdout, /^bpfpipe\.\S+ cpu \d+ slot \d+ ts \d+\n    0000  [0-9a-f]{2} /);
        const pcap = path.join(tmp, 'out.pcapng');
        const pc = cli(['subscribe', nats.url, '--deliver', 'all', '--count', String(N), '--format', 'pcapng', '--output', pcap]);
        assert.equal(pc.status, 0, pc.stderr);
        assert.ok(fs.statSync(pcap).size > N * 64);
        assertTcClean(ns);
      } finally {
        await nats.close();
      }
    }),
  );
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('--nats with the server gone: a bounded buffer, then drops, counted in the summary (published + dropped == events)', async () => {
  await withNetns((ns) =>
    ns.inside(async () => {
      const nats = await NatsServer.start();
      const run = startCli(['run', OBJ, '--iface', ns.dev, '--format', 'none', '--nats', nats.url, '--nats-buffer', '50', '--nats-drain', '1']);
      try {
        const received = () => run.stderr();
        await repeatUntil(waitFor('the stream to exist', async () => ((await streamState(nats.url).catch(() => undefined))?.messages ? true : undefined), 20_000, 100), () => ns.sendUdp(1, { from: 'peer' }), 200, 20_000);
        await nats.kill('SIGKILL');
        const traffic = udpTraffic(ns.peerPath, ns.addr, { chunks: 3, perChunk: 100, pauseS: 0.1 });
        assert.equal(await traffic.done, 0);
        await waitFor('the buffer-full notice', () => (/NATS buffer full \(50 messages\)/.test(received()) ? true : undefined), 10_000);
        const t0 = Date.now();
        run.child.kill('SIGINT');
        assert.equal(await run.exitWithin(10_000), 0, run.stderr());
        assert.ok(Date.now() - t0 < 4000, `exited ${Date.now() - t0} ms after SIGINT`);
        const s = parseSummary(run.stderr());
        assert.ok(s.received >= 300, run.stderr());
        assert.equal(s.published! + s.dropped!, s.received + 0 * s.lost, `published + dropped == received: ${run.stderr()}`);
        assert.ok(s.dropped! >= 250, `dropped ${s.dropped}`);
        assertTcClean(ns);
      } finally {
        await endCli(run);
        await nats.close();
      }
    }),
  );
});

test('--nats: an unreachable server at start is a one-line error (exit 1); --subject needs --nats', async () => {
  const r = cli(['run', OBJ, '--iface', 'nosuchdev0', '--nats', 'nats://127.0.0.1:1', '--count', '1']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /--nats: cannot publish to nats:\/\/127\.0\.0\.1:1: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  const u = cli(['run', OBJ, '--iface', 'nosuchdev0', '--subject', 'a.b']);
  assert.equal(u.status, 2);
  assert.match(u.stderr, /--subject needs --nats/);
  const w = cli(['run', OBJ, '--iface', 'nosuchdev0', '--nats', 'nats://127.0.0.1:1', '--subject', 'a.*']);
  assert.equal(w.status, 2);
  assert.match(w.stderr, /no wildcards/);
  const sub = cli(['subscribe', 'nats://127.0.0.1:1', '--count', '1']);
  assert.equal(sub.status, 1);
  assert.match(sub.stderr, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
});

test('NatsPublisher: publishes whose ack timed out are sent again with the same Nats-Msg-Id and stored once', async () => {
  const nats = await NatsServer.start();
  try {
    const pub = await NatsPublisher.connect({ servers: nats.url, subject: 'bpfpipe.test.dedup', format: 'raw', ackTimeoutMs: 300, window: 64 });
    const N = 2000;
    const events = Array.from({ length: N }, (_, i) => ({ cpu: i % 2, slot: i % 2, data: new Uint8Array(new Uint32Array([i, 0xdeadbeef]).buffer) }));
    // The server stops answering (still connected) while the publishes are in flight: acks time out,
    // the publisher re-sends, and the server, once back, gets both the originals and the re-sends.
    const writes = (async () => {
      for (let i = 0; i < N; i += 100) await pub.write(batchOf(events.slice(i, i + 100), undefined, true));
    })();
    await sleep(20);
    pauseProcess(nats.pid, true);
    await sleep(1500);
    pauseProcess(nats.pid, false);
    await writes;
    const st = await pub.flush(20_000);
    await pub.close();
    assert.equal(st.submitted, N);
    assert.equal(st.published, N);
    assert.equal(st.dropped, 0);
    assert.ok(st.retries > 0, `retries ${st.retries}`);
    assert.ok(st.duplicates > 0, `duplicates ${st.duplicates}: some re-sends found the original stored`);
    const state = await streamState(nats.url);
    assert.equal(state.messages, N, 'each message stored once');
    // And in publish order of ids: the payloads are the N distinct events.
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const seen = new Set<number>();
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const m = await jsm.streams.getMessage('BPFPIPE', { seq });
        assert.ok(m);
        assert.equal(m.header.get('cpu'), String(new DataView(m.data.buffer, m.data.byteOffset).getUint32(0, true) % 2));
        seen.add(new DataView(m.data.buffer, m.data.byteOffset).getUint32(0, true));
      }
      assert.equal(seen.size, N);
    } finally {
      await nc.close();
    }
  } finally {
    await nats.close();
  }
});

test('listen on channel 1 of a pinned map with --nats and --metrics: subject bpfpipe.<host>.events, channel label 1', async () => {
  const pinDir = `/sys/fs/bpf/bpfpipe-test-sinks-${process.pid}`;
  try {
    await withNetns((ns) =>
      ns.inside(async () => {
        const nats = await NatsServer.start();
        try {
          const a = cli(['attach', OBJ, '--iface', ns.dev, '--pin', pinDir], { netns: ns.path });
          assert.equal(a.status, 0, a.stderr);
          let detached = false;
          try {
            const port = await (await import('./support.js')).freePort();
            const l = startCli(['listen', `${pinDir}/events`, '--channel', '1', '--btf', OBJ, '--format', 'json', '--count', '5', '--nats', nats.url, '--metrics', `127.0.0.1:${port}`, '--metrics-linger', '30']);
            let metrics = '';
            try {
              await repeatUntil(waitFor('the summary', () => (/received 5/.test(l.stderr()) ? true : undefined), 20_000, 50), () => ns.sendUdp(1, { port: 9001, from: 'peer' }), 150, 20_000);
              metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
            } finally {
              await endCli(l);
            }
            assert.match(l.stderr(), /received 5, lost 0, nats published 5, dropped 0/);
            assert.match(metrics, /bpfpipe_events_received_total\{cpu="\d+",channel="1"\} \d+/);
            assert.doesNotMatch(metrics, /channel="0"/);
            const sub = cli(['subscribe', nats.url, '--deliver', 'all', '--count', '5']);
            assert.equal(sub.status, 0, sub.stderr);
            const recs = lines(sub.stdout).map((x) => JSON.parse(x) as { subject: string; event: { dport: number; channel: number } });
            assert.equal(recs.length, 5);
            assert.ok(recs.every((r) => /^bpfpipe\.[A-Za-z0-9_-]+\.events$/.test(r.subject) && r.event.dport === 9001 && r.event.channel === 1));
            assert.deepEqual(lines(sub.stdout).map((x) => { const { subject: _s, ...rest } = JSON.parse(x) as { subject: string }; return JSON.stringify(rest); }), lines(l.stdout()));
            detached = true;
            assert.equal(cli(['detach', '--iface', ns.dev, '--pin', pinDir], { netns: ns.path }).status, 0);
            assertTcClean(ns);
          } finally {
            // whatever failed: the attachment and its manifest go too
            if (!detached) cli(['detach', '--iface', ns.dev, '--pin', pinDir], { netns: ns.path });
          }
        } finally {
          await nats.close();
        }
      }),
    );
  } finally {
    fs.rmSync(pinDir, { recursive: true, force: true });
  }
});
