/** The hex and pcapng output formats, and packet layers in JSON records. */
import { decodePacket, hexdump, PcapngWriter, sampleRecord, type RecordOptions, type EventBatch } from '../../index.js';
import { SinkWriter, type Format, type OutputOptions, type OutputWriter } from './formats.js';

export function recordOptions(): RecordOptions {
  return { decodePacket: (b) => decodePacket(b) as Record<string, unknown> };
}

/** CLOCK_MONOTONIC ns (kernel timestamps) to ns since the epoch, fixed once per process. */
const monoToEpoch = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

class HexWriter extends SinkWriter {
  constructor(o: OutputOptions) {
    super(o.output);
  }

  async write(batch: EventBatch, limit = batch.length): Promise<void> {
    let s = '';
    for (let i = 0; i < limit; i++) {
      const ts = batch.ts(i);
      s += `cpu ${batch.cpu(i)}${batch.slot(i) !== undefined ? ` slot ${batch.slot(i)}` : ''}${ts !== undefined ? ` ts ${ts}` : ''} size ${batch.size(i)}\n`;
      const r = sampleRecord(batch, i, {});
      if (r.event) s += `  event ${JSON.stringify(r.event)}\n`;
      const p = batch.packet(i);
      if (p) s += `  packet ${p.byteLength} bytes\n${hexdump(p, '    ')}`;
      else s += hexdump(batch.data(i), '    ');
    }
    for (const l of batch.lost) s += `cpu ${l.cpu}${l.slot !== undefined ? ` slot ${l.slot}` : ''} lost ${l.lost}\n`;
    this.sink.push(s);
    await this.sink.flush();
  }
}

class PcapngOutput extends SinkWriter {
  private readonly w: PcapngWriter;
  private readonly iface: number;

  constructor(o: OutputOptions) {
    super(o.output);
    this.w = new PcapngWriter((chunk) => {
      this.sink.push(chunk);
      return this.sink.flush();
    });
    this.iface = this.w.addInterface({ name: 'bpfpipe', description: 'packet bytes appended to eBPF events' });
  }

  async write(batch: EventBatch, limit = batch.length): Promise<void> {
    for (let i = 0; i < limit; i++) {
      const ts = batch.ts(i);
      const r = sampleRecord(batch, i, {});
      const packet = batch.packet(i) ?? (r.event ? new Uint8Array(0) : batch.data(i));
      const len = r.event?.len;
      this.w.writePacket({
        interfaceId: this.iface,
        timestampNs: ts !== undefined ? ts + monoToEpoch : BigInt(Date.now()) * 1_000_000n,
        data: packet,
        originalLength: typeof len === 'number' && len >= packet.byteLength ? len : packet.byteLength,
        comment: JSON.stringify({ cpu: r.cpu, ...(r.slot !== undefined ? { slot: r.slot } : {}), ...(r.event ? { event: r.event } : {}) }),
      });
    }
    await this.w.flush();
  }

  override async close(): Promise<void> {
    await this.w.flush();
    await super.close();
  }
}

export const outputExtras: Partial<Record<Format, (o: OutputOptions) => OutputWriter>> = {
  hex: (o) => new HexWriter(o),
  pcapng: (o) => new PcapngOutput(o),
};
