/** The read loop of run/listen/replay: batches → output writer and sinks, until count, duration or stop. */
import type { EventReader, EventBatch, ReaderStats } from '../index.js';
import type { OutputWriter } from './output/formats.js';
import type { Session } from './session.js';
import { StatusLine } from './status.js';
import { ClosedError } from '../errors.js';

export interface BatchConsumer {
  write(batch: EventBatch, limit?: number): void | Promise<void>;
}

export interface StreamOptions {
  reader: Pick<EventReader, 'batches' | 'close' | 'stats'>;
  writer: OutputWriter;
  /** Further consumers (metrics, NATS, web view). */
  consumers?: BatchConsumer[];
  count?: number;
  durationS?: number;
  session: Session;
  status?: StatusLine;
}

export interface StreamResult {
  received: number;
  lost: number;
  stats: ReaderStats;
}

export async function stream(o: StreamOptions): Promise<StreamResult> {
  let received = 0;
  let lost = 0;
  const stop = () => void o.reader.close();
  o.session.onStop(stop);
  o.writer.onEnd?.(stop);
  const timer = o.durationS !== undefined ? setTimeout(stop, o.durationS * 1000) : undefined;
  o.status?.start(() => ({ received, lost }));
  // stopped before reading began (a signal while the reader opened or the program attached): the
  // reader is closed already, and yields what its rings held then, or is empty and refuses to be read
  const stoppedEarly = o.session.signal !== undefined;
  try {
    for await (const batch of o.reader.batches()) {
      let limit = batch.length;
      if (o.count !== undefined && received + limit >= o.count) limit = o.count - received;
      received += limit;
      lost += batch.lostCount;
      await o.writer.write(batch, limit);
      for (const c of o.consumers ?? []) await c.write(batch, limit);
      if (o.writer.ended || (o.count !== undefined && received >= o.count)) break;
    }
  } catch (err) {
    if (!(stoppedEarly && err instanceof ClosedError)) throw err;
  } finally {
    if (timer) clearTimeout(timer);
    o.status?.stop();
    await o.reader.close();
  }
  return { received, lost, stats: o.reader.stats };
}
