/**
 * The JSON shape of events, shared by every output (CLI --format json, NATS, the web view):
 *   {"cpu":0,"ts":<ns>,"event":{...},"packet":{"len":48,"hex":"…","eth":{…},"ipv4":{…},"udp":{…}}}
 *   {"cpu":0,"lost":N}
 * u64 values become JSON numbers when they are exact (< 2^53) and strings otherwise.
 */
import type { EventBatch } from '../ring/batch.js';
import type { Lost } from '../ring/types.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface SampleRecord {
  cpu: number;
  slot?: number;
  ts?: number | string;
  event?: { [k: string]: Json };
  packet?: { len: number; hex: string; [layer: string]: Json };
  /** Raw sample bytes in hex, when there is no struct to decode them with. */
  data?: string;
}

export interface LostRecord {
  cpu: number;
  slot?: number;
  lost: number;
}

export type EventRecord = SampleRecord | LostRecord;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A JSON-safe copy: bigint → number when exact, else string; bytes → hex; undefined dropped. */
export function jsonSafe(v: unknown): Json {
  switch (typeof v) {
    case 'bigint':
      return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString();
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'string':
    case 'boolean':
      return v;
    case 'object': {
      if (v === null) return null;
      if (v instanceof Uint8Array) return hex(v);
      if (Array.isArray(v)) return v.map(jsonSafe);
      const out: { [k: string]: Json } = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) out[k] = jsonSafe(x);
      return out;
    }
    default:
      return null;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function hex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

export interface RecordOptions {
  /** Decodes appended packet bytes into layers ({eth, ipv4, udp, ...}); omitted: only len and hex. */
  decodePacket?: (bytes: Uint8Array) => Record<string, unknown>;
  /** Include the slot (perf event arrays) in records. */
  slot?: boolean;
}

/** Sample i of a batch as a JSON record. */
export function sampleRecord(batch: EventBatch, i: number, o: RecordOptions = {}): SampleRecord {
  const r: SampleRecord = { cpu: batch.cpu(i) };
  if (o.slot) {
    const slot = batch.slot(i);
    if (slot !== undefined) r.slot = slot;
  }
  const ts = batch.ts(i);
  if (ts !== undefined) r.ts = jsonSafe(ts) as number | string;
  const ev = batch.event(i);
  if (ev) {
    r.event = jsonSafe(ev) as { [k: string]: Json };
    const p = batch.packet(i);
    if (p) {
      const packet: SampleRecord['packet'] = { len: p.byteLength, hex: hex(p) };
      if (o.decodePacket) Object.assign(packet, jsonSafe(o.decodePacket(p)));
      r.packet = packet;
    }
  } else {
    r.data = hex(batch.data(i));
  }
  return r;
}

export function lostRecord(l: Lost, o: RecordOptions = {}): LostRecord {
  return o.slot && l.slot !== undefined ? { cpu: l.cpu, slot: l.slot, lost: l.lost } : { cpu: l.cpu, lost: l.lost };
}

/** Every event of a batch as records: samples in order, then loss notices. */
export function batchRecords(batch: EventBatch, o: RecordOptions = {}): EventRecord[] {
  const out: EventRecord[] = [];
  for (let i = 0; i < batch.length; i++) out.push(sampleRecord(batch, i, o));
  for (const l of batch.lost) out.push(lostRecord(l, o));
  return out;
}
