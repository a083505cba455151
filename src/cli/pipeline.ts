/** The part of run/listen/replay after the reader exists: outputs, sinks, the loop, the summary. */
import type { EventReader } from '../index.js';
import { createWriter, type OutputWriter } from './output/formats.js';
import type { OutputFlags } from './options.js';
import { stream, type BatchConsumer, type StreamResult } from './stream.js';
import type { Session } from './session.js';
import { StatusLine } from './status.js';
import { outputExtras, recordOptions } from './output/extras.js';

export interface PipelineOptions extends OutputFlags {
  session: Session;
  reader: Pick<EventReader, 'batches' | 'close' | 'stats'>;
  consumers?: BatchConsumer[];
  /** Say where events come from in the summary (e.g. "userspace runtime"). */
  label?: string;
}

export async function pipeline(o: PipelineOptions): Promise<StreamResult> {
  const writer: OutputWriter = o.session.own('output', createWriter(o.format, { output: o.output, record: recordOptions() }, outputExtras), (w) => w.close());
  const status = StatusLine.enabled() ? new StatusLine() : undefined;
  const result = await stream({
    reader: o.reader,
    writer,
    consumers: o.consumers,
    count: o.count,
    durationS: o.duration,
    session: o.session,
    status,
  });
  return result;
}

export function summary(r: { received: number; lost: number }, extra = ''): void {
  process.stderr.write(`received ${r.received}, lost ${r.lost}${extra}\n`);
}
