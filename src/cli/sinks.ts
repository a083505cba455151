/**
 * The sink flags of run, listen and replay (--metrics, --nats, --web) and the consumers they make.
 *
 *   addSinkOptions(command);
 *   const sinks = await createSinks(flags, session, { name: prog.name, ringBytes });
 *   const result = await pipeline({ ...flags, session, reader, consumers: sinks.consumers });
 *   await sinks.finish(result);   // drains NATS, prints the summary with the sinks' counts, lingers for a last scrape
 */
import * as os from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import type { Registry } from 'prom-client';
import {
  UsageError, possibleCpus, registerEventMetrics, registerNatsMetrics, serveMetrics, NatsPublisher, WebView, defaultSubject, subjectProblem, fieldGetter,
  type EventMetrics, type ListenAddress,
} from '../index.js';
import { hostPort, positiveInt, seconds } from './options.js';
import { recordOptions } from './output/extras.js';
import { summary } from './pipeline.js';
import type { BatchConsumer, StreamResult } from './stream.js';
import type { Session } from './session.js';

export interface SinkFlags {
  metrics?: ListenAddress;
  metricsLinger?: number;
  countBy?: string[];
  countByMax?: number;
  nats?: string;
  subject?: string;
  natsStream?: string;
  natsFormat?: 'json' | 'raw';
  natsWindow?: number;
  natsBuffer?: number;
  natsDrain?: number;
  web?: ListenAddress;
  webField?: string;
}

export interface SinkContext {
  /** Program (run, replay) or map (listen) name: the default subject is bpfpipe.<host>.<name>. */
  name: string;
  /** Data bytes of one ring, for the ring fill gauges. */
  ringBytes?: number;
  /** Whether perf samples carry kernel timestamps. */
  timestamps?: boolean;
  /** Title of the web view. */
  title?: string;
}

export interface Sinks {
  consumers: BatchConsumer[];
  /** Wait for NATS acks (bounded), print the summary line with the sinks' counts, then serve metrics for --metrics-linger. */
  finish(result: StreamResult, extra?: string): Promise<void>;
}

/** Whether the sinks show records (NATS, web view): perf samples then carry kernel timestamps even with --format none. */
export function sinksWantRecords(flags: SinkFlags): boolean {
  return flags.nats !== undefined || flags.web !== undefined;
}

/** [HOST:]PORT; the host defaults to 127.0.0.1 (anything wider must be given). */
export function listenAddress(v: string): ListenAddress {
  if (/^\d+$/.test(v)) return hostPort(`127.0.0.1:${v}`);
  return hostPort(v);
}

function natsFormat(v: string): 'json' | 'raw' {
  if (v !== 'json' && v !== 'raw') throw new InvalidArgumentError('must be json or raw');
  return v;
}

function fieldName(v: string): string {
  try {
    fieldGetter(v, { ncpu: 1 });
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return v;
}

export function addSinkOptions(c: Command): Command {
  return c
    .option('--metrics <[host:]port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (host default 127.0.0.1)', listenAddress)
    .option('--metrics-linger <s>', 'keep serving /metrics S seconds after the stream ends, for a last scrape', seconds)
    .option('--count-by <field>', 'count events by this field in the metrics (repeatable; e.g. dport, packet.ipv4.src)', (v: string, prev: string[] = []) => [...prev, ...v.split(',').map(fieldName)])
    .option('--count-by-max <n>', 'distinct values per --count-by field before the rest counts as "other" (default 20)', positiveInt('--count-by-max'))
    .option('--nats <url>', 'publish events to NATS JetStream (e.g. nats://127.0.0.1:4222)')
    .option('--subject <s>', 'NATS subject (default bpfpipe.<host>.<program or map>)')
    .option('--nats-stream <name>', 'stream to create when none holds the subject (default BPFPIPE, over bpfpipe.>)')
    .option('--nats-format <f>', 'json (the --format json record) or raw (sample bytes, headers cpu/slot/ts)', natsFormat, 'json')
    .option('--nats-window <n>', 'publishes awaiting their ack (default 1024)', positiveInt('--nats-window'))
    .option('--nats-buffer <n>', 'messages kept while the server is unreachable, then dropped and counted (default 100000)', positiveInt('--nats-buffer'))
    .option('--nats-drain <s>', 'at exit, wait at most S seconds for the last acks (default 10)', seconds)
    .option('--web <[host:]port>', 'serve a live view at http://HOST:PORT/ (host default 127.0.0.1)', listenAddress)
    .option('--web-field <field>', 'show the top values of this field in the web view', fieldName);
}

function listenFailure(flag: string, addr: ListenAddress, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const why = e.code === 'EADDRINUSE' ? 'the port is in use' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.code === 'EACCES' ? 'permission denied' : e.message;
  return new Error(`${flag}: cannot listen on ${addr.host}:${addr.port}: ${why}`, { cause: err });
}

export async function createSinks(flags: SinkFlags, session: Session, ctx: SinkContext): Promise<Sinks> {
  if (flags.subject !== undefined && !flags.nats) throw new UsageError('--subject needs --nats URL');
  if (flags.webField !== undefined && !flags.web) throw new UsageError('--web-field needs --web [HOST:]PORT');
  if ((flags.countBy?.length || flags.countByMax !== undefined) && !flags.metrics) throw new UsageError('--count-by needs --metrics [HOST:]PORT');
  if (flags.metricsLinger !== undefined && !flags.metrics) throw new UsageError('--metrics-linger needs --metrics [HOST:]PORT');
  const consumers: BatchConsumer[] = [];
  const warn = (m: string) => void process.stderr.write(`${m.startsWith('bpfpipe:') ? m : `bpfpipe: ${m}`}\n`);
  const ncpu = possibleCpus().length;
  const record = recordOptions();
  let registry: Registry | undefined;
  let metrics: EventMetrics | undefined;
  if (flags.metrics) {
    const prom = await import('prom-client');
    registry = new prom.Registry();
    prom.collectDefaultMetrics({ register: registry });
    metrics = registerEventMetrics(registry, {
      ncpu, countBy: flags.countBy, maxValues: flags.countByMax, ringBytes: ctx.ringBytes, timestamps: ctx.timestamps, record, onWarning: warn,
    });
    const addr = flags.metrics;
    const server = session.own('metrics server', await serveMetrics(registry, addr).catch((err: unknown) => { throw listenFailure('--metrics', addr, err); }), (s) => s.close());
    warn(`metrics at ${server.url}/metrics`);
    consumers.push(metrics);
  }
  let nats: NatsPublisher | undefined;
  if (flags.nats) {
    const subject = flags.subject ?? defaultSubject(os.hostname(), ctx.name);
    const problem = subjectProblem(subject);
    if (problem) throw new UsageError(`--subject '${subject}': ${problem}`);
    const url = flags.nats;
    nats = session.own(
      'nats',
      await NatsPublisher.connect({
        servers: url, subject, stream: flags.natsStream, format: flags.natsFormat, record, window: flags.natsWindow, buffer: flags.natsBuffer, onWarning: warn,
      }).catch((err: unknown) => {
        throw new Error(`--nats: cannot publish to ${url}: ${(err as Error).message}`, { cause: err });
      }),
      (p) => p.close(),
    );
    const pub = nats;
    session.onStop(() => pub.release());
    if (process.stderr.isTTY) warn(`publishing to ${url} subject ${subject} (stream ${pub.stream})`);
    consumers.push(pub);
    if (registry && metrics) {
      registerNatsMetrics(registry, () => pub.stats);
      metrics.trackSink('nats', () => ({ errors: pub.stats.errors }));
    }
  }
  if (flags.web) {
    const addr = flags.web;
    const web = session.own(
      'web view',
      await WebView.start({ ...addr, ncpu, field: flags.webField, record, title: ctx.title ?? ctx.name }).catch((err: unknown) => { throw listenFailure('--web', addr, err); }),
      (w) => w.close(),
    );
    warn(`web view at ${web.url}`);
    consumers.push(web);
    metrics?.trackSink('web', () => ({ errors: web.sendErrors }));
  }
  const drainMs = (flags.natsDrain ?? 10) * 1000;
  return {
    consumers,
    async finish(result, suffix = '') {
      let extra = '';
      if (nats) {
        const s = await nats.flush(session.signal ? Math.min(drainMs, 2000) : drainMs);
        extra += `, nats published ${s.published}, dropped ${s.dropped}`;
      }
      summary(result, extra + suffix);
      if (flags.metrics && flags.metricsLinger && !session.signal) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, flags.metricsLinger! * 1000);
          session.onStop(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}
