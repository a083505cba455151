/**
 * The live web view: one static page (web/ in the package, uPlot from its own package) and a WebSocket
 * (/ws) that pushes a snapshot about every 250 ms. Binds where it is told (the CLI defaults to
 * 127.0.0.1). On a loopback address it answers only to loopback Host names (no DNS rebinding), and the
 * WebSocket accepts only same-origin pages. Events are untrusted: the page renders them as text only.
 */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { WebSocket, WebSocketServer } from 'ws';
import { wsLib } from './lazy.js';
import type { EventBatch } from '../ring/batch.js';
import { listenHttp, type HttpListener, type ListenAddress } from './http.js';
import { WebState, type WebStateOptions } from './web-state.js';

export interface WebViewOptions extends ListenAddress, WebStateOptions {
  /** Page title (e.g. the program and interface). */
  title?: string;
  /** Milliseconds between snapshots (default 250). */
  intervalMs?: number;
}

const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const require = createRequire(import.meta.url);

interface Asset {
  file: string;
  type: string;
}

const ASSETS: Record<string, Asset> = {
  '/': { file: `${WEB_DIR}index.html`, type: 'text/html; charset=utf-8' },
  '/index.html': { file: `${WEB_DIR}index.html`, type: 'text/html; charset=utf-8' },
  '/app.js': { file: `${WEB_DIR}app.js`, type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: `${WEB_DIR}style.css`, type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: `${WEB_DIR}favicon.svg`, type: 'image/svg+xml' },
  '/favicon.ico': { file: `${WEB_DIR}favicon.svg`, type: 'image/svg+xml' },
  '/uplot.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/uplot.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function hostName(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(hostHeader);
  return (m?.[1] ?? '').toLowerCase();
}

export class WebView {
  readonly state: WebState;
  private readonly wss: WebSocketServer = new (wsLib().WebSocketServer)({ noServer: true, maxPayload: 4096 });
  private timer: NodeJS.Timeout | undefined;
  private listener!: HttpListener;
  /** Failed sends to browsers (a sink error). */
  sendErrors = 0;
  private readonly files = new Map<string, Buffer>();

  private constructor(private readonly o: WebViewOptions) {
    this.state = new WebState(o);
    for (const [p, a] of Object.entries(ASSETS)) this.files.set(p, fs.readFileSync(a.file));
  }

  /** Serve the page on o.host:o.port (port 0: a free port) and start pushing snapshots. */
  static async start(o: WebViewOptions): Promise<WebView> {
    const v = new WebView(o);
    v.listener = await listenHttp((req, res) => v.serve(req, res), o);
    v.listener.server.on('upgrade', (req, socket, head) => v.upgrade(req, socket, head));
    v.timer = setInterval(() => v.broadcast(), o.intervalMs ?? 250);
    v.timer.unref();
    return v;
  }

  get url(): string {
    return `${this.listener.url}/`;
  }

  get port(): number {
    return this.listener.port;
  }

  get clients(): number {
    return this.wss.clients.size;
  }

  write(batch: EventBatch, limit = batch.length): void {
    this.state.write(batch, limit);
  }

  private allowedHost(req: http.IncomingMessage): boolean {
    if (!isLoopback(this.o.host)) return true;
    return LOOPBACK_NAMES.has(hostName(req.headers.host)) || /^127\./.test(hostName(req.headers.host));
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!this.allowedHost(req)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden host\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const asset = ASSETS[path];
    const body = this.files.get(path);
    if (!asset || !body) {
      res.writeHead(404, { 'content-type': 'text/plain', ...SECURITY_HEADERS }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': asset.type, 'content-length': body.byteLength, ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private upgrade(req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    const origin = req.headers.origin;
    const sameOrigin = origin === undefined || origin === `http://${req.headers.host}`;
    if (path !== '/ws' || !sameOrigin || !this.allowedHost(req)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      ws.on('message', () => {}); // the page sends nothing we act on
      this.send(ws, JSON.stringify(this.state.hello(this.o.title ?? 'bpfpipe')));
    });
  }

  private send(ws: WebSocket, text: string): void {
    if (ws.readyState !== ws.OPEN) return;
    // A browser that cannot keep up gets fewer snapshots rather than an unbounded queue.
    if (ws.bufferedAmount > 4 << 20) return;
    ws.send(text, (err) => {
      if (err) this.sendErrors++;
    });
  }

  private broadcast(): void {
    const tick = this.state.tick();
    if (this.wss.clients.size === 0) return;
    const text = JSON.stringify(tick);
    for (const ws of this.wss.clients) this.send(ws, text);
  }

  /** Push a last snapshot, then close the browsers' sockets and the server. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.broadcast();
    for (const ws of this.wss.clients) ws.close(1001, 'bpfpipe stopped');
    await new Promise<void>((r) => setTimeout(r, 20));
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    await this.listener.close();
  }
}
