/** NATS publisher counts as Prometheus metrics, read at every scrape. */
import type { Registry } from 'prom-client';
import { promClient } from './lazy.js';
import type { NatsStats } from './nats.js';

/** Register `<prefix>nats_*` metrics that read `stats()` at every scrape. */
export function registerNatsMetrics(registry: Registry, stats: () => NatsStats, prefix = 'bpfpipe_'): void {
  const { Counter, Gauge } = promClient();
  const registers = [registry];
  const counter = (name: string, help: string, key: 'published' | 'dropped' | 'duplicates' | 'retries' | 'reconnects') => {
    let reported = 0;
    new Counter({
      name: `${prefix}nats_${name}_total`,
      help,
      registers,
      collect() {
        const now = stats()[key];
        if (now > reported) this.inc(now - reported);
        reported = now;
      },
    });
  };
  counter('published', 'Messages JetStream acknowledged', 'published');
  counter('dropped', 'Messages given up (buffer full, rejected, unacknowledged at exit)', 'dropped');
  counter('duplicates', 'Re-published messages the stream already had (stored once)', 'duplicates');
  counter('retries', 'Publishes sent again after a failure', 'retries');
  counter('reconnects', 'Reconnections to the NATS server', 'reconnects');
  const gauge = (name: string, help: string, read: (s: NatsStats) => number) =>
    new Gauge({
      name: `${prefix}nats_${name}`,
      help,
      registers,
      collect() {
        this.set(read(stats()));
      },
    });
  gauge('buffered_messages', 'Messages waiting to be sent', (s) => s.buffered);
  gauge('inflight_messages', 'Publishes awaiting their ack', (s) => s.inflight);
  gauge('connected', '1 while connected to the NATS server', (s) => (s.connected ? 1 : 0));
}
