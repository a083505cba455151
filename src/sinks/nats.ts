/**
 * NatsPublisher: events to a JetStream stream, one message per event, with publish acks.
 *
 * Flow control, in this order:
 * 1. a bounded window of publishes awaiting their ack (`window`);
 * 2. back-pressure: write() resolves only once at most `window` messages wait behind the window, so a
 *    slow server slows the reader (the kernel then counts what the rings cannot hold as lost);
 * 3. while the server is gone (disconnected, or no ack for `stallMs`), write() no longer waits: messages
 *    wait in a buffer of at most `buffer` messages;
 * 4. beyond that, messages are dropped and counted (`stats.dropped`), never silently.
 * A publish that fails for a transient reason (timeout, disconnect, JetStream not ready after a restart)
 * is sent again with the same Nats-Msg-Id: the stream stores it once. On reconnect, sending resumes.
 *
 * Publishing is JetStream's protocol without a promise and a timer per message: a core publish with a
 * reply subject under one inbox subscription, the PubAck (or error) arrives there, and one sweep timer
 * re-queues what was not acknowledged within ackTimeoutMs (about 10x cheaper than js.publish() here).
 */
import * as os from 'node:os';
import type { NatsConnection, MsgHdrs, Msg as NatsMsg, Subscription } from '@nats-io/transport-node';
import { natsClient, jetstreamLib } from './lazy.js';
import type { EventBatch } from '../ring/batch.js';
import { sampleRecord, lostRecord, type RecordOptions } from '../decode/json.js';
import { ensureStream, rawHeaders, lostHeaders, DEFAULT_STREAM, type NatsFormat } from './nats-stream.js';
import { Fifo } from './fifo.js';
import { parseReply } from './nats-reply.js';

export interface NatsSinkOptions {
  /** Server URL(s), e.g. nats://127.0.0.1:4222. */
  servers: string | string[];
  subject: string;
  /** Stream to create when no stream holds the subject (default BPFPIPE, over bpfpipe.>). */
  stream?: string;
  format?: NatsFormat;
  /** How JSON records are built (packet layers). */
  record?: RecordOptions;
  /** Publishes awaiting their ack (default 1024). */
  window?: number;
  /** Messages kept while the server is unreachable (default 100000). */
  buffer?: number;
  /** Ack timeout of one publish, ms (default 5000). */
  ackTimeoutMs?: number;
  /** No ack for this long while messages wait: stop back-pressure, buffer instead (default: ackTimeoutMs). */
  stallMs?: number;
  /** Message id prefix (default `<hostname>.<run id>`): ids are `<prefix>.<seq>`. */
  idPrefix?: string;
  /** Connection name shown by the server. */
  name?: string;
  /** Called for events worth a line on stderr (disconnected, reconnected, first failure of a kind). */
  onWarning?: (message: string) => void;
}

export interface NatsStats {
  /** Messages made (one per event and one per loss notice). */
  submitted: number;
  /** Messages the stream acknowledged (each counted once, also when a re-publish was a duplicate). */
  published: number;
  /** Acks that said "duplicate": a re-publish of a message the stream already had. */
  duplicates: number;
  /** Publishes sent again after a failure. */
  retries: number;
  /** Messages given up: buffer full, rejected by the stream, or still unacknowledged at close. */
  dropped: number;
  /** Publishes the stream rejected for good (counted in dropped too). */
  errors: number;
  /** Messages waiting to be sent. */
  buffered: number;
  /** Publishes awaiting their ack. */
  inflight: number;
  connected: boolean;
  reconnects: number;
}

interface Msg {
  data: Uint8Array;
  /** Nats-Msg-Id and, for raw messages, cpu/slot/ts or lost. */
  headers: MsgHdrs;
}

interface Pending {
  m: Msg;
  sentAt: number;
}

const RETRY_PAUSE_MS = 200;
const MSG_ID = 'Nats-Msg-Id';

/** `<hostname>.<run>`: unique per process run on a host. */
export function defaultIdPrefix(): string {
  return `${os.hostname()}.${Date.now().toString(36)}${process.pid.toString(36)}`;
}

export class NatsPublisher {
  readonly subject: string;
  readonly stream: string;
  private readonly nc: NatsConnection;
  private readonly inbox: string;
  private readonly sub: Subscription;
  private token = 0;
  /** Publishes awaiting their ack, by reply token, in send order. */
  private readonly pending = new Map<number, Pending>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly o: NatsSinkOptions;
  private readonly window: number;
  private readonly bufferMax: number;
  private readonly ackTimeoutMs: number;
  private readonly stallMs: number;
  private readonly idPrefix: string;
  private readonly queue = new Fifo<Msg>();
  private seq = 0;
  private s = { submitted: 0, published: 0, duplicates: 0, retries: 0, dropped: 0, errors: 0, reconnects: 0 };
  private connected = true;
  private closed = false;
  /** Back-pressure is off: SIGINT/close, or no ack for stallMs. */
  private released = false;
  private stalled = false;
  private pausedUntil = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private waiters: (() => void)[] = [];
  private readonly warned = new Set<string>();

  private constructor(nc: NatsConnection, stream: string, o: NatsSinkOptions) {
    this.nc = nc;
    this.o = o;
    this.subject = o.subject;
    this.stream = stream;
    this.ackTimeoutMs = o.ackTimeoutMs ?? 5000;
    this.inbox = natsClient().createInbox();
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (_err, msg) => this.onReply(msg) });
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, this.ackTimeoutMs / 4)));
    this.sweepTimer.unref();
    this.window = o.window ?? 1024;
    this.bufferMax = o.buffer ?? 100_000;
    this.stallMs = o.stallMs ?? this.ackTimeoutMs;
    this.idPrefix = o.idPrefix ?? defaultIdPrefix();
    void this.watchStatus();
  }

  /** Connect, make sure a stream holds the subject, and return a publisher. */
  static async connect(o: NatsSinkOptions): Promise<NatsPublisher> {
    const nc = await natsClient().connect({
      servers: o.servers,
      name: o.name ?? 'bpfpipe',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      pingInterval: 5000,
      timeout: 5000,
    });
    try {
      const jsm = await jetstreamLib().jetstreamManager(nc, { timeout: o.ackTimeoutMs ?? 5000 });
      const stream = await ensureStream(jsm, o.subject, o.stream ?? DEFAULT_STREAM);
      return new NatsPublisher(nc, stream, o);
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  }

  get stats(): NatsStats {
    return { ...this.s, buffered: this.queue.size, inflight: this.pending.size, connected: this.connected };
  }

  private warn(key: string, message: string): void {
    if (key && this.warned.has(key)) return;
    if (key) this.warned.add(key);
    this.o.onWarning?.(message);
  }

  private async watchStatus(): Promise<void> {
    for await (const st of this.nc.status()) {
      if (st.type === 'disconnect') {
        if (!this.connected) continue;
        this.connected = false;
        // What was in flight may or may not be stored: send it again after the reconnect (same ids).
        this.requeueAll();
        this.warn('', `bpfpipe: NATS disconnected from ${st.server}; buffering up to ${this.bufferMax} messages`);
        this.wake();
      } else if (st.type === 'reconnect') {
        this.connected = true;
        this.s.reconnects++;
        this.pausedUntil = 0;
        this.warn('', `bpfpipe: NATS reconnected to ${st.server}; ${this.queue.size} messages to send`);
        this.pump();
      } else if (st.type === 'close') {
        this.connected = false;
        this.wake();
      }
    }
  }

  private push(m: Msg): void {
    this.s.submitted++;
    if (this.queue.size >= this.bufferMax) {
      this.s.dropped++;
      this.warn('buffer', `bpfpipe: NATS buffer full (${this.bufferMax} messages): dropping, counted in the summary`);
      return;
    }
    this.queue.push(m);
  }

  private withId(h: MsgHdrs): MsgHdrs {
    h.set(MSG_ID, `${this.idPrefix}.${++this.seq}`);
    return h;
  }

  /** Turn the batch's first `limit` samples and its loss notices into messages (synchronously: the batch may be leased). */
  private encode(batch: EventBatch, limit: number): void {
    const rec = this.o.record ?? {};
    if (this.o.format === 'raw') {
      for (let i = 0; i < limit; i++) this.push({ data: batch.data(i).slice(), headers: this.withId(rawHeaders(batch.cpu(i), batch.slot(i), batch.ts(i))) });
      for (const l of batch.lost) this.push({ data: new Uint8Array(0), headers: this.withId(lostHeaders(l.cpu, l.slot, l.lost)) });
      return;
    }
    const headers = natsClient().headers;
    for (let i = 0; i < limit; i++) this.push({ data: Buffer.from(JSON.stringify(sampleRecord(batch, i, rec))), headers: this.withId(headers()) });
    for (const l of batch.lost) this.push({ data: Buffer.from(JSON.stringify(lostRecord(l, rec))), headers: this.withId(headers()) });
  }

  private pump(): void {
    if (!this.connected || this.closed) return;
    const now = Date.now();
    if (now < this.pausedUntil) {
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, this.pausedUntil - now);
      return;
    }
    while (this.pending.size < this.window) {
      const m = this.queue.shift();
      if (!m) break;
      const token = ++this.token;
      this.pending.set(token, { m, sentAt: now });
      try {
        this.nc.publish(this.subject, m.data, { reply: `${this.inbox}.${token}`, headers: m.headers });
      } catch (err) {
        // Refused by the client itself (e.g. larger than the server's max_payload): not retried.
        this.pending.delete(token);
        this.fail(m, false, (err as Error).message);
      }
    }
  }

  private fail(m: Msg, retry: boolean, message: string): void {
    if (retry && !this.closed) {
      this.queue.unshift([m]);
      this.s.retries++;
      this.pausedUntil = Date.now() + RETRY_PAUSE_MS;
      this.warn(`retry:${message.split(' ')[0]}`, `bpfpipe: NATS publish failed (${message}); retrying with the same message ids`);
    } else {
      this.s.dropped++;
      this.s.errors++;
      this.warn(`error:${message}`, `bpfpipe: NATS rejected a message (${message}); dropped and counted`);
    }
  }

  private onReply(msg: NatsMsg): void {
    const token = Number(msg.subject.slice(this.inbox.length + 1));
    const p = this.pending.get(token);
    if (!p) return; // a late ack of a publish that was re-queued: the re-send's ack counts
    this.pending.delete(token);
    const r = parseReply(msg);
    if (r.ok) {
      this.s.published++;
      if (r.duplicate) this.s.duplicates++;
      this.stalled = false;
    } else {
      this.fail(p.m, r.transient, r.message);
    }
    this.wake();
    // Refill the window in bulk (one socket write for many publishes), once half of it is free.
    if (this.pending.size <= this.window >> 1) this.schedulePump();
  }

  private pumpScheduled = false;

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Re-queue the publishes not acknowledged within ackTimeoutMs (oldest first: the map is in send order). */
  private sweep(): void {
    const deadline = Date.now() - this.ackTimeoutMs;
    const late: Msg[] = [];
    for (const [token, p] of this.pending) {
      if (p.sentAt > deadline) break;
      this.pending.delete(token);
      late.push(p.m);
    }
    if (late.length === 0) return;
    this.queue.unshift(late);
    this.s.retries += late.length;
    this.warn('retry:timeout', `bpfpipe: NATS did not acknowledge ${late.length} messages within ${this.ackTimeoutMs} ms; sending them again with the same message ids`);
    this.wake();
    this.pump();
  }

  private requeueAll(): void {
    const back = [...this.pending.values()].map((p) => p.m);
    this.pending.clear();
    this.s.retries += back.length;
    this.queue.unshift(back);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private progress(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Publish the batch's first `limit` samples and its loss notices; resolves when the window has room (see above). */
  async write(batch: EventBatch, limit = batch.length): Promise<void> {
    this.encode(batch, limit);
    this.pump();
    let waitedSince = Date.now();
    let acked = this.s.published;
    while (!this.released && !this.stalled && this.connected && this.queue.size > this.window) {
      await this.progress(this.stallMs);
      if (this.s.published !== acked) {
        acked = this.s.published;
        waitedSince = Date.now();
      } else if (Date.now() - waitedSince >= this.stallMs) {
        this.stalled = true;
        this.warn('stall', `bpfpipe: NATS has not acknowledged anything for ${this.stallMs} ms; buffering up to ${this.bufferMax} messages`);
      }
    }
  }

  /** Stop making write() wait (on SIGINT: the reader must be able to stop). */
  release(): void {
    this.released = true;
    this.wake();
  }

  /**
   * Wait until every message is acknowledged, for at most `timeoutMs`; what is still unacknowledged
   * then counts as dropped. Returns the final stats.
   */
  async flush(timeoutMs = 10_000): Promise<NatsStats> {
    this.release();
    const deadline = Date.now() + timeoutMs;
    while ((this.queue.size > 0 || this.pending.size > 0) && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      this.pump();
      await this.progress(Math.min(left, 250));
    }
    const left = this.queue.size + this.pending.size;
    if (left > 0) {
      this.s.dropped += left;
      this.warn('', `bpfpipe: NATS: ${left} messages not acknowledged within ${timeoutMs} ms; counted as dropped`);
      this.queue.clear();
      this.pending.clear();
    }
    return this.stats;
  }

  /** Close the connection (messages still waiting count as dropped). */
  async close(): Promise<void> {
    if (this.closed) return;
    const left = this.queue.size + this.pending.size;
    this.s.dropped += left;
    this.queue.clear();
    this.pending.clear();
    this.closed = true;
    this.released = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.wake();
    this.sub.unsubscribe();
    await this.nc.close().catch(() => {});
  }
}
