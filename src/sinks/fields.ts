/**
 * Field selectors for --count-by and --web-field: a name of the decoded struct (`dport`), a path into
 * it (`event.tuple.dport`), a path into the JSON record (`packet.ipv4.src`, `packet.udp.dport`), or
 * one of the ring's own coordinates (`cpu`, `slot`, `channel`). Values become short label strings.
 */
import type { EventBatch } from '../ring/batch.js';
import { jsonSafe, sampleRecord, type RecordOptions } from '../decode/json.js';

/** A value of sample i, as a label string; undefined when the sample has no such field. */
export type FieldGetter = (batch: EventBatch, i: number) => string | undefined;

/** Longest label value kept (longer values are cut, with a trailing "…"). */
export const MAX_VALUE_LENGTH = 64;

export function labelValue(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const j = jsonSafe(v);
  const s = typeof j === 'string' ? j : JSON.stringify(j);
  return s.length > MAX_VALUE_LENGTH ? `${s.slice(0, MAX_VALUE_LENGTH - 1)}…` : s;
}

function walk(v: unknown, path: readonly string[]): unknown {
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

export interface FieldOptions {
  /** Slots per channel (possible CPUs) for `channel`. */
  ncpu: number;
  /** How records are built for `packet.*` paths (packet layer decoding). */
  record?: RecordOptions;
}

/** A getter for `field`; throws a TypeError naming the problem for an empty or malformed path. */
export function fieldGetter(field: string, o: FieldOptions): FieldGetter {
  const path = field.split('.');
  if (!field || path.some((p) => p === '')) throw new TypeError(`'${field}' is not a field name (e.g. dport, event.dport, packet.ipv4.src)`);
  if (path.length === 1) {
    switch (field) {
      case 'cpu':
        return (b, i) => String(b.cpu(i));
      case 'slot':
        return (b, i) => labelValue(b.slot(i));
      case 'channel':
        return (b, i) => {
          const s = b.slot(i);
          return String(s === undefined ? 0 : Math.floor(s / o.ncpu));
        };
      default:
        return (b, i) => labelValue(b.event(i)?.[field]);
    }
  }
  if (path[0] === 'event') {
    const rest = path.slice(1);
    return (b, i) => labelValue(walk(b.event(i), rest));
  }
  // Anything else is a path into the whole JSON record (packet layers are decoded for it).
  const record: RecordOptions = { ...o.record, slot: true };
  return (b, i) => labelValue(walk(sampleRecord(b, i, record), path));
}

/** The top-level field names of the first decoded event of a batch (for "no such field" hints). */
export function eventFields(batch: EventBatch): string[] | undefined {
  for (let i = 0; i < batch.length; i++) {
    const ev = batch.event(i);
    if (ev) return Object.keys(ev);
  }
  return undefined;
}
