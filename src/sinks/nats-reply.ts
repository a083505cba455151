/** JetStream publish acks as they come back on the reply inbox. */
import type { Msg as NatsMsg } from '@nats-io/transport-node';

/** A JetStream reply: ok (maybe a duplicate), or an error that is worth retrying or not. */
export type Reply = { ok: true; duplicate: boolean } | { ok: false; transient: boolean; message: string };

export function parseReply(msg: NatsMsg): Reply {
  // No stream (yet) for the subject, e.g. while JetStream recovers after a restart: a 503 status.
  if (msg.headers?.hasError) return { ok: false, transient: msg.headers.code === 503 || msg.headers.code === 408, message: `${msg.headers.code} ${msg.headers.description}` };
  try {
    const r = JSON.parse(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).toString('utf8')) as { stream?: string; duplicate?: boolean; error?: { code: number; err_code?: number; description: string } };
    if (r.error) return { ok: false, transient: r.error.code === 503 || r.error.err_code === 10008, message: r.error.description };
    if (typeof r.stream === 'string' && r.stream !== '') return { ok: true, duplicate: r.duplicate === true };
  } catch {
    /* below */
  }
  return { ok: false, transient: false, message: 'invalid JetStream ack' };
}
