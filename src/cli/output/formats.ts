/** The output formats of `run`, `listen` and `replay`: json, hex, pcapng, none. */
import { sampleRecord, lostRecord, type RecordOptions, EventBatch } from '../../index.js';
import { ByteSink } from './byte-sink.js';
import { RawJsonEncoder } from './raw-json.js';

export type Format = 'json' | 'hex' | 'pcapng' | 'none';
export const FORMATS: readonly Format[] = ['json', 'hex', 'pcapng', 'none'];

export interface OutputWriter {
  /** Write the batch's samples (the first `limit` of them, when given) and its loss notices. */
  write(batch: EventBatch, limit?: number): void | Promise<void>;
  close(): Promise<void>;
  /** The output went away (EPIPE): stop reading. */
  readonly ended: boolean;
  /** Call `listener` when the output goes away or fails: the reader must stop even without traffic. */
  onEnd?(listener: () => void): void;
}

/** Something that writes to a ByteSink (stdout or --output FILE): ends when the sink goes away. */
export abstract class OverByteSink {
  protected readonly sink: ByteSink;

  constructor(output: string | undefined) {
    this.sink = new ByteSink(output);
  }

  get ended(): boolean {
    return this.sink.closed;
  }

  onEnd(listener: () => void): void {
    this.sink.onGone(listener);
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}

/** An output writer of batches over a ByteSink. */
export abstract class SinkWriter extends OverByteSink implements OutputWriter {
  abstract write(batch: EventBatch, limit?: number): Promise<void>;
}

export interface OutputOptions {
  output?: string;
  record: RecordOptions;
}

class JsonWriter extends SinkWriter {
  constructor(private readonly o: OutputOptions) {
    super(o.output);
  }

  private readonly raw = new RawJsonEncoder();

  async write(batch: EventBatch, limit = batch.length): Promise<void> {
    const rec = this.o.record;
    let s = '';
    if (!batch.decoded) {
      // Raw samples: bytes straight into a reused buffer; wait until they are written before reuse.
      this.raw.encode(batch, limit);
      await this.sink.writeNow(this.raw.take());
    } else {
      for (let i = 0; i < limit; i++) {
        s += JSON.stringify(sampleRecord(batch, i, rec));
        s += '\n';
        if (s.length > 1 << 20) {
          this.sink.push(s);
          s = '';
        }
      }
    }
    for (const l of batch.lost) s += JSON.stringify(lostRecord(l, rec)) + '\n';
    if (s) this.sink.push(s);
    await this.sink.flush();
  }
}

class NoneWriter implements OutputWriter {
  readonly ended = false;
  write(): void {}
  async close(): Promise<void> {}
}

export function createWriter(format: Format, o: OutputOptions, extra: Partial<Record<Format, (o: OutputOptions) => OutputWriter>> = {}): OutputWriter {
  const make = extra[format];
  if (make) return make(o);
  switch (format) {
    case 'json':
      return new JsonWriter(o);
    case 'none':
      return new NoneWriter();
    default:
      throw new Error(`format ${format} has no writer`);
  }
}
