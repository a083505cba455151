/** A small node:http listener for the sinks (metrics endpoint, web view) that closes all its connections. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface HttpListener {
  readonly server: http.Server;
  readonly host: string;
  readonly port: number;
  /** http://host:port (IPv6 hosts in brackets). */
  readonly url: string;
  close(): Promise<void>;
}

export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Listen on host:port (port 0: any free port); rejects with the listen error (EADDRINUSE, EACCES, ...). */
export function listenHttp(handler: http.RequestListener, addr: ListenAddress): Promise<HttpListener> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        server,
        host: addr.host,
        port,
        url: `http://${urlHost(addr.host)}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Serve `registry` at /metrics (the Prometheus text format). */
export function serveMetrics(registry: Registry, addr: ListenAddress): Promise<HttpListener> {
  return listenHttp((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('bpfpipe metrics: /metrics\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }, addr);
}
