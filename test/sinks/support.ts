/**
 * Real services for the sink tests, started by the tests on 127.0.0.1 (inside the test's network
 * namespace: the test thread enters it, so the CLI, the servers and the browser all share its
 * loopback) with free ports and throwaway directories, and stopped afterwards (also on failure):
 * nats-server -js, prometheus, headless Chromium.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port nobody listens on right now (in the current network namespace). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `bpfpipe-${prefix}-`));
}

/** Poll `check` until it returns a value (not undefined) or `timeoutMs` passes (then throw `what`). */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface Proc {
  child: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
}

function start(cmd: string, args: string[]): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, log: () => log, exited };
}

async function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(t);
}

export class NatsServer {
  private proc: Proc | undefined;
  readonly storeDir = tmpDir('nats');

  private constructor(readonly port: number) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<NatsServer> {
    const s = new NatsServer(await freePort());
    await s.restart();
    return s;
  }

  /** (Re)start on the same port and store directory; resolves once JetStream is up. */
  async restart(): Promise<void> {
    this.proc = start('nats-server', ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port)]);
    const p = this.proc;
    await waitFor(`nats-server on ${this.port}`, async () => {
      if (p.child.exitCode !== null) throw new Error(`nats-server exited: ${p.log()}`);
      return /Server is ready/.test(p.log()) && (await portOpen(this.port)) ? true : undefined;
    });
  }

  /** Kill it (SIGKILL by default: no goodbye to the clients). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.proc) await stop(this.proc, signal);
  }

  get pid(): number {
    return this.proc!.child.pid!;
  }

  log(): string {
    return this.proc?.log() ?? '';
  }

  async close(): Promise<void> {
    const c = this.proc?.child;
    if (c?.pid && c.exitCode === null && c.signalCode === null) c.kill('SIGCONT'); // in case a test paused it
    await this.kill('SIGTERM');
    fs.rmSync(this.storeDir, { recursive: true, force: true });
  }
}

export class Prometheus {
  private readonly dir = tmpDir('prom');
  private proc: Proc | undefined;

  private constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Prometheus scraping http://`target`/metrics every second. */
  static async start(target: string): Promise<Prometheus> {
    const p = new Prometheus(await freePort());
    const config = path.join(p.dir, 'prometheus.yml');
    fs.writeFileSync(config, [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      'scrape_configs:',
      '  - job_name: bpfpipe',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'));
    p.proc = start('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(p.dir, 'data')}`, `--web.listen-address=127.0.0.1:${p.port}`, '--log.level=warn']);
    const proc = p.proc;
    await waitFor('prometheus to be ready', async () => {
      if (proc.child.exitCode !== null) throw new Error(`prometheus exited: ${proc.log()}`);
      const r = await fetch(`${p.url}/-/ready`).catch(() => undefined);
      return r?.ok ? true : undefined;
    }, 30_000, 200);
    return p;
  }

  /** An instant query: [labels, value] per series. */
  async query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const r = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await r.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success') throw new Error(`query ${q}: ${body.error}`);
    return body.data.result;
  }

  /** The scrape target's health as Prometheus sees it. */
  async targets(): Promise<{ health: string; lastError: string; scrapeUrl: string }[]> {
    const r = await fetch(`${this.url}/api/v1/targets`);
    return ((await r.json()) as { data: { activeTargets: { health: string; lastError: string; scrapeUrl: string }[] } }).data.activeTargets;
  }

  log(): string {
    return this.proc?.log() ?? '';
  }

  async close(): Promise<void> {
    if (this.proc) await stop(this.proc);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A background UDP sender from the peer namespace: `chunks` bursts of `perChunk` datagrams to `port`, `pauseS` apart. */
export function udpTraffic(peerPath: string, to: string, o: { port?: number; chunks: number; perChunk: number; pauseS?: number }): { done: Promise<number | null>; child: ChildProcess } {
  const script = `for c in $(seq ${o.chunks}); do for i in $(seq ${o.perChunk}); do echo "bpfpipe $c $i" > /dev/udp/${to}/${o.port ?? 9000}; done; sleep ${o.pauseS ?? 0.05}; done`;
  const child = spawn('nsenter', [`--net=${peerPath}`, 'bash', '-c', script], { stdio: 'ignore' });
  return { child, done: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

/** Parse `received N, lost M[, nats published P, dropped D]` from a summary. */
export function parseSummary(stderr: string): { received: number; lost: number; published?: number; dropped?: number } {
  const m = /received (\d+), lost (\d+)(?:, nats published (\d+), dropped (\d+))?/.exec(stderr);
  if (!m) throw new Error(`no summary in: ${stderr}`);
  return { received: Number(m[1]), lost: Number(m[2]), ...(m[3] !== undefined ? { published: Number(m[3]), dropped: Number(m[4]) } : {}) };
}

export const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium (the system's), driven by playwright-core. */
export async function launchChromium(): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 60_000 });
}

/** Pause (SIGSTOP) and resume (SIGCONT) a server process: connected, but not answering. */
export function pauseProcess(pid: number, paused: boolean): void {
  process.kill(pid, paused ? 'SIGSTOP' : 'SIGCONT');
}

/**
 * End a CLI a test started, whatever happened: SIGTERM (it detaches and removes its pins and its
 * manifest), SIGKILL only if it is still there after 5 s. No-op once it has exited.
 */
export async function endCli(run: { child: ChildProcess; exited: Promise<number | null> }): Promise<void> {
  if (run.child.exitCode !== null || run.child.signalCode !== null) return;
  run.child.kill('SIGTERM');
  const t = setTimeout(() => run.child.kill('SIGKILL'), 5000);
  await run.exited;
  clearTimeout(t);
}
