/**
 * bpfpipe subscribe <nats-url>: read the events that `run`/`listen --nats` published (from one host or a
 * whole fleet) out of JetStream, in the same output formats. With --durable NAME the position is kept
 * by the server (a restarted subscriber continues where it stopped; each message is acknowledged once
 * it is written); without, an ordered ephemeral consumer reads from --deliver (default: new messages).
 * JSON lines are the records of `--format json` with the subject first: {"subject":"bpfpipe.host.prog","cpu":0,...}.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Consumer, ConsumerMessages, JsMsg, JetStreamManager } from '@nats-io/jetstream';
import { UsageError, findStream, subjectProblem, messageRecord } from '../../index.js';
import { addOutputOptions, type OutputFlags } from '../options.js';
import { summary } from '../pipeline.js';
import { Session } from '../session.js';
import { createRecordWriter } from '../subscribe-output.js';

interface SubscribeFlags extends OutputFlags {
  subject: string;
  stream?: string;
  durable?: string;
  deliver?: 'all' | 'new' | 'last';
}

function deliver(v: string): 'all' | 'new' | 'last' {
  if (v !== 'all' && v !== 'new' && v !== 'last') throw new InvalidArgumentError('must be all, new or last');
  return v;
}

function durableName(v: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) throw new InvalidArgumentError('must be 1-64 letters, digits, _ or -');
  return v;
}

type Lib = typeof import('@nats-io/jetstream');

const policy = (lib: Lib, from: 'all' | 'new' | 'last') => ({ all: lib.DeliverPolicy.All, new: lib.DeliverPolicy.New, last: lib.DeliverPolicy.Last })[from];

async function durableConsumer(lib: Lib, jsm: JetStreamManager, stream: string, name: string, subject: string, from: 'all' | 'new' | 'last'): Promise<void> {
  let filter: string | undefined;
  try {
    const info = await jsm.consumers.info(stream, name);
    filter = info.config.filter_subject ?? info.config.filter_subjects?.join(',') ?? '>';
  } catch (err) {
    if (!/consumer not found/i.test((err as Error).message)) throw err;
    await jsm.consumers.add(stream, { durable_name: name, ack_policy: lib.AckPolicy.Explicit, filter_subject: subject, deliver_policy: policy(lib, from), max_ack_pending: 20_000 });
    return;
  }
  if (filter !== subject) throw new UsageError(`durable consumer '${name}' of stream ${stream} reads '${filter}', not '${subject}': give that subject or another --durable name`);
}

export function subscribeCommand(): Command {
  const c = new Command('subscribe')
    .description("read events published with --nats from JetStream (one host or the whole fleet: --subject 'bpfpipe.>')")
    .argument('<nats-url>', 'NATS server, e.g. nats://127.0.0.1:4222')
    .option('--subject <s>', 'subject filter (wildcards allowed)', 'bpfpipe.>')
    .option('--stream <name>', 'stream to read (default: the one that holds the subject)')
    .option('--durable <name>', 'durable consumer: the server keeps the position; messages are acknowledged once written', durableName)
    .option('--deliver <from>', 'where a new consumer starts: all, new or last (default: all with --durable, else new)', deliver);
  addOutputOptions(c);
  return c.action(async (url: string, flags: SubscribeFlags) => {
    const problem = subjectProblem(flags.subject, true);
    if (problem) throw new UsageError(`--subject '${flags.subject}': ${problem}`);
    const from = flags.deliver ?? (flags.durable ? 'all' : 'new');
    // Loaded here: the NATS client costs start-up time that other commands should not pay.
    const { connect } = await import('@nats-io/transport-node');
    const lib = await import('@nats-io/jetstream');
    const session = new Session();
    try {
      const nc: NatsConnection = session.own(
        'nats',
        await connect({ servers: url, name: 'bpfpipe subscribe', maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5000 }).catch((err: unknown) => {
          throw new Error(`cannot connect to NATS at ${url}: ${(err as Error).message}`, { cause: err });
        }),
        async (n) => {
          await n.drain().catch(() => n.close());
        },
      );
      const jsm = await lib.jetstreamManager(nc);
      const stream = flags.stream ?? (await findStream(jsm, flags.subject));
      const js = lib.jetstream(nc);
      let consumer: Consumer;
      if (flags.durable) {
        await durableConsumer(lib, jsm, stream, flags.durable, flags.subject, from);
        consumer = await js.consumers.get(stream, flags.durable);
      } else {
        consumer = await js.consumers.get(stream, { filter_subjects: flags.subject, deliver_policy: policy(lib, from) });
      }
      const writer = session.own('output', createRecordWriter(flags.format, flags.output), (w) => w.close());
      let stopping = false;
      let current: ConsumerMessages | undefined;
      const stop = () => {
        stopping = true;
        void current?.stop();
      };
      session.onStop(stop);
      writer.onEnd(stop);
      const timer = flags.duration !== undefined ? setTimeout(stop, flags.duration * 1000) : undefined;
      let received = 0;
      let lost = 0;
      let skipped = 0;
      let unacked: JsMsg[] = [];
      const done = () => stopping || writer.ended || (flags.count !== undefined && received >= flags.count);
      const commit = async () => {
        await writer.flush();
        if (flags.durable) for (const m of unacked) m.ack();
        unacked = [];
      };
      try {
        // Bounded pulls: never more than --count still needs, so a durable consumer keeps nothing
        // locked for its ack wait; what arrives after a stop is handed back at once (nak).
        while (!done()) {
          const want = Math.min(1000, flags.count !== undefined ? flags.count - received : 1000);
          current = await consumer.fetch({ max_messages: want, expires: 2000 });
          if (stopping) void current.stop();
          for await (const m of current) {
            if (done()) {
              if (flags.durable) m.nak();
              continue;
            }
            const record = messageRecord(m.data, m.headers);
            if (!record) {
              skipped++;
              if (flags.durable) m.term();
              continue;
            }
            if ('lost' in record) lost += record.lost;
            else received++;
            writer.push({ subject: m.subject, record, storedNs: m.timestampNanos });
            unacked.push(m);
            if (unacked.length >= 1000) await commit();
          }
          await commit();
        }
      } finally {
        if (timer) clearTimeout(timer);
        stop();
      }
      await nc.flush(); // the acks reach the server before we go
      if (skipped) process.stderr.write(`bpfpipe: ${skipped} messages on '${flags.subject}' were not bpfpipe events; skipped\n`);
      summary({ received, lost });
    } finally {
      await session.close();
    }
  });
}
