/**
 * JetStream plumbing shared by the publisher and `bpfpipe subscribe`: subjects, the stream that holds
 * them (created when missing), and the message shapes.
 *
 * Messages, one per event:
 * - json: the record of `--format json` (`{"cpu":0,"ts":…,"event":{…},"packet":{…}}` or `{"cpu":0,"lost":N}`)
 * - raw: the sample bytes, with headers `cpu`, `slot`, `ts`; a loss notice has no payload and a `lost` header.
 * Every message carries `Nats-Msg-Id` = `<host>.<run>.<seq>`, so a re-publish after a reconnect is
 * stored once (within the stream's duplicate window).
 */
import type { MsgHdrs } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { natsClient, jetstreamLib } from './lazy.js';
import type { EventRecord } from '../decode/json.js';
import { hex } from '../decode/json.js';

export const DEFAULT_STREAM = 'BPFPIPE';
export const SUBJECT_ROOT = 'bpfpipe';
/** How long the stream remembers message ids for de-duplication. */
export const DUPLICATE_WINDOW_MS = 120_000;

export type NatsFormat = 'json' | 'raw';

/** A subject token: letters, digits, `_` and `-` (dots, wildcards and spaces become `_`). */
export function subjectToken(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
}

/** bpfpipe.<host>.<name> */
export function defaultSubject(host: string, name: string): string {
  return `${SUBJECT_ROOT}.${subjectToken(host)}.${subjectToken(name)}`;
}

/** A usable publish subject (no wildcards, no empty tokens), or the reason it is not. */
export function subjectProblem(subject: string, wildcards = false): string | undefined {
  if (!subject) return 'the subject is empty';
  if (/\s/.test(subject)) return 'a subject has no spaces';
  const tokens = subject.split('.');
  if (tokens.some((t) => t === '')) return 'a subject has no empty tokens (a.b.c)';
  if (!wildcards && tokens.some((t) => t === '*' || t === '>')) return 'a publish subject has no wildcards';
  if (wildcards && tokens.slice(0, -1).includes('>')) return "'>' may only be the last token";
  return undefined;
}

/**
 * The name of the stream that stores `subject`: the existing one, or a new file stream `name` over
 * `bpfpipe.>` (or over the subject itself when it is outside bpfpipe.>). A stream `name` that exists
 * with other subjects gets this subject added.
 */
export async function ensureStream(jsm: JetStreamManager, subject: string, name = DEFAULT_STREAM): Promise<string> {
  try {
    return await jsm.streams.find(subject);
  } catch (err) {
    if (!/no stream matches subject/.test((err as Error).message)) throw err;
  }
  const subjects = [subject === SUBJECT_ROOT || subject.startsWith(`${SUBJECT_ROOT}.`) ? `${SUBJECT_ROOT}.>` : subject];
  let existing: string[] | undefined;
  try {
    existing = (await jsm.streams.info(name)).config.subjects;
  } catch {
    existing = undefined;
  }
  if (existing) await jsm.streams.update(name, { subjects: [...existing, ...subjects] });
  else await jsm.streams.add({ name, subjects, storage: jetstreamLib().StorageType.File, duplicate_window: natsClient().nanos(DUPLICATE_WINDOW_MS) });
  return name;
}

/** The stream a subscription filter (which may have wildcards) reads from. */
export async function findStream(jsm: JetStreamManager, subject: string): Promise<string> {
  try {
    return await jsm.streams.find(subject);
  } catch (err) {
    if (/no stream matches subject/.test((err as Error).message)) {
      throw new Error(`no JetStream stream holds '${subject}' (bpfpipe run --nats creates one; or give --stream NAME)`, { cause: err });
    }
    throw err;
  }
}

export const HDR_CPU = 'cpu';
export const HDR_SLOT = 'slot';
export const HDR_TS = 'ts';
export const HDR_LOST = 'lost';

/** Headers of a raw sample. */
export function rawHeaders(cpu: number, slot: number | undefined, ts: bigint | undefined): MsgHdrs {
  const h = natsClient().headers();
  h.set(HDR_CPU, String(cpu));
  if (slot !== undefined) h.set(HDR_SLOT, String(slot));
  if (ts !== undefined) h.set(HDR_TS, ts.toString());
  return h;
}

/** Headers of a raw loss notice. */
export function lostHeaders(cpu: number, slot: number | undefined, lost: number): MsgHdrs {
  const h = natsClient().headers();
  h.set(HDR_CPU, String(cpu));
  if (slot !== undefined) h.set(HDR_SLOT, String(slot));
  h.set(HDR_LOST, String(lost));
  return h;
}

function intHeader(h: MsgHdrs, k: string): number | undefined {
  const v = h.get(k);
  return v === '' || !/^\d+$/.test(v) ? undefined : Number(v);
}

/**
 * A received message as an event record: a JSON payload as it is, a raw message rebuilt from its
 * headers (`data` is the payload in hex). Undefined when it is neither (not a bpfpipe message).
 */
export function messageRecord(data: Uint8Array, h: MsgHdrs | undefined): EventRecord | undefined {
  if (h && h.has(HDR_CPU)) {
    const cpu = intHeader(h, HDR_CPU) ?? 0;
    const slot = intHeader(h, HDR_SLOT);
    const lost = intHeader(h, HDR_LOST);
    if (lost !== undefined) return slot !== undefined ? { cpu, slot, lost } : { cpu, lost };
    const r: { cpu: number; slot?: number; ts?: number | string; data: string } = { cpu, data: '' };
    if (slot !== undefined) r.slot = slot;
    const ts = h.get(HDR_TS);
    if (/^\d+$/.test(ts)) r.ts = Number.isSafeInteger(Number(ts)) ? Number(ts) : ts;
    r.data = hex(data);
    return r;
  }
  try {
    const v = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as unknown;
    if (v && typeof v === 'object' && typeof (v as { cpu?: unknown }).cpu === 'number') return v as EventRecord;
  } catch {
    /* not JSON */
  }
  return undefined;
}
