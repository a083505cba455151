/**
 * The output formats of `bpfpipe subscribe`, over event records (the messages carry records, not ring
 * batches): json (the --format json line with the subject first), hex, pcapng, none.
 */
import { hexdump, PcapngWriter, type EventRecord } from '../index.js';
import { OverByteSink, type Format } from './output/formats.js';

export interface Received {
  subject: string;
  record: EventRecord;
  /** When the stream stored the message (ns since the epoch). */
  storedNs: bigint;
}

export interface RecordWriter {
  /** Queue one record (written by flush()). */
  push(r: Received): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly ended: boolean;
  onEnd(listener: () => void): void;
}

function bytesOfHex(h: unknown): Uint8Array {
  return typeof h === 'string' && /^([0-9a-f]{2})*$/i.test(h) ? Buffer.from(h, 'hex') : new Uint8Array(0);
}

abstract class SinkRecordWriter extends OverByteSink implements RecordWriter {
  abstract push(r: Received): void;
  flush(): Promise<void> {
    return this.sink.flush();
  }
}

class JsonRecords extends SinkRecordWriter {
  push(r: Received): void {
    this.sink.push(`${JSON.stringify({ subject: r.subject, ...r.record })}\n`);
  }
}

class HexRecords extends SinkRecordWriter {
  push(r: Received): void {
    const rec = r.record as EventRecord & { lost?: number; ts?: number | string; event?: unknown; packet?: { len: number; hex: string }; data?: string };
    const where = `${r.subject} cpu ${rec.cpu}${rec.slot !== undefined ? ` slot ${rec.slot}` : ''}`;
    if (rec.lost !== undefined) {
      this.sink.push(`${where} lost ${rec.lost}\n`);
      return;
    }
    let s = `${where}${rec.ts !== undefined ? ` ts ${rec.ts}` : ''}\n`;
    if (rec.event) s += `  event ${JSON.stringify(rec.event)}\n`;
    if (rec.packet) s += `  packet ${rec.packet.len} bytes\n${hexdump(bytesOfHex(rec.packet.hex), '    ')}`;
    else if (rec.data !== undefined) s += hexdump(bytesOfHex(rec.data), '    ');
    this.sink.push(s);
  }
}

class PcapngRecords extends SinkRecordWriter {
  private readonly w: PcapngWriter;
  private readonly iface: number;

  constructor(output: string | undefined) {
    super(output);
    this.w = new PcapngWriter((chunk) => {
      this.sink.push(chunk);
    });
    this.iface = this.w.addInterface({ name: 'bpfpipe', description: 'packet bytes appended to eBPF events, from NATS JetStream' });
  }

  push(r: Received): void {
    const rec = r.record as EventRecord & { lost?: number; event?: Record<string, unknown>; packet?: { hex: string }; data?: string };
    if (rec.lost !== undefined) return;
    const data = rec.packet ? bytesOfHex(rec.packet.hex) : rec.event ? new Uint8Array(0) : bytesOfHex(rec.data);
    const len = rec.event?.len;
    this.w.writePacket({
      interfaceId: this.iface,
      timestampNs: r.storedNs,
      data,
      originalLength: typeof len === 'number' && len >= data.byteLength ? len : data.byteLength,
      comment: JSON.stringify({ subject: r.subject, cpu: rec.cpu, ...(rec.slot !== undefined ? { slot: rec.slot } : {}), ...(rec.event ? { event: rec.event } : {}) }),
    });
  }

  override async flush(): Promise<void> {
    await this.w.flush();
    await super.flush();
  }
}

class NoRecords implements RecordWriter {
  readonly ended = false;
  push(): void {}
  onEnd(): void {}
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

export function createRecordWriter(format: Format, output: string | undefined): RecordWriter {
  switch (format) {
    case 'json':
      return new JsonRecords(output);
    case 'hex':
      return new HexRecords(output);
    case 'pcapng':
      return new PcapngRecords(output);
    case 'none':
      return new NoRecords();
  }
}
