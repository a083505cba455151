/**
 * Observability through node:diagnostics_channel: bpfpipe publishes what it does on named channels
 * that any code in the process (a metrics exporter, a tracer, a test) can subscribe to. Nothing is
 * built or published while a channel has no subscribers: a check of `hasSubscribers`, no more.
 *
 *   import diagnostics_channel from 'node:diagnostics_channel';
 *   diagnostics_channel.subscribe('bpfpipe:reader:drain', (m) => histogram.observe((m as ReaderDrainMessage).events));
 *
 * Channels (the message types below):
 * - bpfpipe:reader:open   an event reader (kernel or userspace runtime) opened its rings
 * - bpfpipe:reader:drain  a reader drained its rings into a batch (events, bytes, losses, why)
 * - bpfpipe:reader:lost   a reader learned of lost samples (a PERF_RECORD_LOST, or bpfpipe.h's counters)
 * - bpfpipe:reader:close  a reader closed; its final counts (a runtime reader: once what it held at close
 *                         is delivered)
 * - bpfpipe:program:load  a program was loaded into the kernel, or refused (the error, e.g. VerifierError)
 * - bpfpipe:tc:attach     a program was attached to a tc hook (tcx link or clsact filter)
 * - bpfpipe:tc:detach     an attachment was closed (detached, unless it persists)
 */
import diagnostics_channel from 'node:diagnostics_channel';
import type { ReaderStats } from './ring/types.js';
import type { DrainCause } from './ring/poll-timer.js';

/** The channel names, for subscribe() and unsubscribe(). */
export const channels = {
  readerOpen: 'bpfpipe:reader:open',
  readerDrain: 'bpfpipe:reader:drain',
  readerLost: 'bpfpipe:reader:lost',
  readerClose: 'bpfpipe:reader:close',
  programLoad: 'bpfpipe:program:load',
  tcAttach: 'bpfpipe:tc:attach',
  tcDetach: 'bpfpipe:tc:detach',
} as const;

/** Which reader a message is about. */
export interface ReaderRef {
  /** The reader object itself (EventReader or RuntimeReader): compare by identity. */
  reader: object;
  kind: 'perf' | 'ringbuf';
  /** The kernel, or bpfpipe's userspace runtime. */
  where: 'kernel' | 'runtime';
}

export interface ReaderOpenMessage extends ReaderRef {
  /** Perf event array slots read (empty for a ring buffer). */
  slots: readonly number[];
}

export interface ReaderDrainMessage extends ReaderRef {
  /** Samples in the batch. */
  events: number;
  /** Bytes of sample data. */
  bytes: number;
  /** Samples reported lost in the batch. */
  lost: number;
  /**
   * What made the drain due: the start, a kernel wake-up, a timer, a read() call or the close (kernel
   * readers); records output by the program (the userspace runtime's readers).
   */
  cause: DrainCause | 'read' | 'close' | 'data';
}

export interface ReaderLostMessage extends ReaderRef {
  /** As in the Lost notice: the CPU whose ring or counter reported it (0 for a ring buffer), the slot. */
  cpu: number;
  slot: number | undefined;
  lost: number;
  /** A PERF_RECORD_LOST in the ring, or the output failures bpfpipe.h's counters saw. */
  source: 'ring' | 'counter';
}

export interface ReaderCloseMessage extends ReaderRef {
  stats: Readonly<ReaderStats>;
}

export interface ProgramLoadMessage {
  name: string;
  /** BPF_PROG_TYPE_* */
  type: number;
  /** Instructions loaded. */
  insns: number;
  /** Wall time of the load, verifier included (and of the retry that fetched its log, on failure). */
  durationMs: number;
  /** On success, the program's fd. */
  fd?: number;
  /** On failure, what is thrown (a VerifierError carries the verifier's log). */
  error?: Error;
}

export interface TcAttachMessage {
  /** The TcAttachment. */
  attachment: {
    readonly mode: 'tcx' | 'clsact';
    readonly iface: string;
    readonly ifindex: number;
    readonly direction: 'ingress' | 'egress';
    readonly program: { name: string; id: number; tag: string };
    readonly persist: boolean;
  };
}

/** A channel with its message type. Call sites check `active` before building a message. */
export class DiagnosticsChannel<T> {
  private readonly ch: diagnostics_channel.Channel;

  constructor(readonly name: string) {
    this.ch = diagnostics_channel.channel(name);
  }

  /** Someone subscribes. */
  get active(): boolean {
    return this.ch.hasSubscribers;
  }

  publish(message: T): void {
    this.ch.publish(message);
  }
}

/** @internal The publishers (the public names are in `channels`). */
export const diag = {
  readerOpen: new DiagnosticsChannel<ReaderOpenMessage>(channels.readerOpen),
  readerDrain: new DiagnosticsChannel<ReaderDrainMessage>(channels.readerDrain),
  readerLost: new DiagnosticsChannel<ReaderLostMessage>(channels.readerLost),
  readerClose: new DiagnosticsChannel<ReaderCloseMessage>(channels.readerClose),
  programLoad: new DiagnosticsChannel<ProgramLoadMessage>(channels.programLoad),
  tcAttach: new DiagnosticsChannel<TcAttachMessage>(channels.tcAttach),
  tcDetach: new DiagnosticsChannel<TcAttachMessage>(channels.tcDetach),
};
