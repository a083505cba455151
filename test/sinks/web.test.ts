/**
 * --web in a real headless Chromium: the page shows the chart, the per-CPU breakdown, the latest
 * decoded events and the top values of a field; events are rendered as text only; the server answers
 * only to loopback names and same-origin WebSockets. The screenshot is kept in test-artifacts/.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { WebSocket } from 'ws';
import { withNetns, assertTcClean, BpffsGuard } from '../kernel/helpers/index.js';
import { startCli, ROOT } from '../cli/support.js';
import { freePort, waitFor, udpTraffic, parseSummary, launchChromium, endCli } from './support.js';
import { WebView } from '../../src/index.js';
import type { StructDecoder } from '../../src/ring/struct-decoder.js';
import { batchOf } from '../../src/ring/batch-builder.js';

const guard = new BpffsGuard();
after(() => assert.deepEqual(guard.restore(), [], 'bpffs entries left behind'));

const OBJ = path.join(ROOT, 'bpf/tc_events.bpf.o');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

function get(port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    }).on('error', reject);
  });
}

function wsRefused(url: string, origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode!);
      ws.terminate();
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error(`a WebSocket from ${origin} was accepted`));
    });
    ws.on('error', () => {});
  });
}

test('run --web: Chromium shows the chart, the per-CPU table, the latest decoded events and the top values of --web-field', async () => {
  await withNetns((ns) =>
    ns.inside(async () => {
      const port = await freePort();
      const run = startCli(['run', OBJ, '--iface', ns.dev, '--format', 'none', '--web', String(port), '--web-field', 'dport']);
      const browser = await launchChromium();
      let traffic: ReturnType<typeof udpTraffic> | undefined;
      try {
        await waitFor('the web view', () => (new RegExp(`web view at http://127\\.0\\.0\\.1:${port}/`).test(run.stderr()) ? true : undefined), 20_000, 50);
        const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
        const problems: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
        });
        page.on('pageerror', (e) => problems.push(String(e)));
        await page.goto(`http://127.0.0.1:${port}/`);
        await page.waitForSelector('#status[data-state="open"]', { timeout: 10_000 });
        traffic = udpTraffic(ns.peerPath, ns.addr, { port: 9000, chunks: 30, perChunk: 20, pauseS: 0.1 });
        await page.locator('#latest tbody tr').nth(19).waitFor({ timeout: 15_000 });
        await page.waitForFunction(() => Number((globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById('rate').textContent.replace(/,/g, '')) > 0, undefined, { timeout: 10_000 });
        // The chart: uPlot's canvas with the series.
        assert.equal(await page.locator('#chart canvas').count(), 1);
        assert.deepEqual(await page.locator('#chart .u-legend .u-series .u-label').allTextContents().then((l) => l.filter((t) => t.includes('/s'))), ['events/s', 'lost/s']);
        // The latest events: decoded fields as columns.
        const head = await page.locator('#latest thead th').allTextContents();
        for (const c of ['cpu', 'slot', 'packet', 'ts', 'dport', 'seq', 'tag', 'channel']) assert.ok(head.includes(c), `column ${c} in ${head}`);
        const rows = await page.locator('#latest tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
        assert.ok(rows.length >= 20 && rows.length <= 50, `${rows.length} rows`);
        const col = (name: string) => head.indexOf(name);
        const udp = rows.filter((r) => r[col('dport')] === '9000');
        assert.ok(udp.length >= 10, `rows with dport 9000: ${udp.length}`);
        for (const r of udp) {
          assert.equal(r[col('tag')], 'bpfpipe');
          assert.equal(r[col('channel')], '0');
          assert.match(r[col('packet')]!, new RegExp(`^${ns.peerAddr.replace(/\./g, '\\.')}:\\d+ → ${ns.addr.replace(/\./g, '\\.')}:9000 udp \\(\\d+ B\\)$`));
        }
        // Newest first: the program's sequence numbers go down the table (per ring: rings are drained one after the other).
        for (const cpu of new Set(udp.map((r) => r[col('cpu')]))) {
          const seqs = udp.filter((r) => r[col('cpu')] === cpu).map((r) => Number(r[col('seq')]));
          assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a));
        }
        // Per CPU and channel, and the top values of dport.
        const rings = await page.locator('#rings tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
        assert.ok(rings.length >= 1);
        for (const r of rings) assert.equal(r[0], '0', 'channel 0');
        assert.equal(await page.locator('#top-field').textContent(), 'dport');
        const top = await page.locator('#top tbody tr td:first-child').allTextContents();
        assert.equal(top[0], '9000', `top values ${top}`);
        assert.equal(await traffic.done, 0);
        await new Promise((r) => setTimeout(r, 600)); // the last snapshots
        assert.deepEqual(problems, [], 'no errors or CSP violations in the page');
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: path.join(ARTIFACTS, 'web-view.png'), fullPage: true });
        // Loopback names only (no DNS rebinding), same-origin WebSockets only.
        assert.equal((await get(port, '/', { host: `evil.example:${port}` })).status, 403);
        assert.equal((await get(port, '/', { host: `localhost:${port}` })).status, 200);
        const page0 = await get(port, '/');
        assert.match(String(page0.headers['content-security-policy']), /script-src 'self'/);
        assert.equal((await get(port, '/../package.json')).status, 404);
        assert.equal(await wsRefused(`ws://127.0.0.1:${port}/ws`, 'http://evil.example'), 403);
        run.child.kill('SIGINT');
        assert.equal(await run.exitWithin(5000), 0, run.stderr());
        assert.ok(parseSummary(run.stderr()).received >= 600);
        assertTcClean(ns);
      } finally {
        traffic?.child.kill('SIGKILL');
        await endCli(run);
        await browser.close();
      }
    }),
  );
});

test('the web view renders untrusted event text as text: no markup, no script runs', async () => {
  const evil = '<img src=x onerror="window.__xss=1">';
  const size = 64;
  // A struct decoder written by hand (as the API allows): `name` is the event's first bytes as text.
  const decoder: StructDecoder = {
    size,
    decode: (view, offset) => ({ name: Buffer.from(view.buffer, view.byteOffset + offset, size).toString('utf8').split('\0')[0], n: view.getUint8(offset + size - 1) }),
  };
  const bytes = (s: string, n: number) => {
    const b = new Uint8Array(size);
    b.set(Buffer.from(s));
    b[size - 1] = n;
    return b;
  };
  const web = await WebView.start({ host: '127.0.0.1', port: 0, ncpu: 2, field: 'name', title: '<b>title</b>' });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(web.url);
    await page.waitForSelector('#status[data-state="open"]');
    web.write(batchOf([{ cpu: 1, slot: 1, data: bytes(evil, 1) }, { cpu: 0, slot: 2, data: bytes('<script>window.__xss=2</script>', 2) }, { cpu: 0, lost: 3, slot: 2 }], decoder, false));
    await page.locator('#latest tbody tr').nth(2).waitFor({ timeout: 5000 });
    const cells = await page.locator('#latest tbody td').allTextContents();
    assert.ok(cells.includes(evil), `the markup is shown as text: ${cells}`);
    assert.ok(cells.includes('<script>window.__xss=2</script>'));
    assert.ok(cells.includes('lost 3 events'));
    assert.equal(await page.locator('#latest img, #latest script, #top img, #title b').count(), 0, 'no element made from event text');
    assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);
    assert.equal(await page.locator('#title').textContent(), '<b>title</b>');
    const top = await page.locator('#top tbody td:first-child').allTextContents();
    assert.ok(top.includes(evil));
    // Channel = slot / ncpu.
    const rings = await page.locator('#rings tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    assert.deepEqual(rings, [['0', '1', '1', '1', '0'], ['1', '0', '2', '1', '3']]);
  } finally {
    await browser.close();
    await web.close();
  }
});
