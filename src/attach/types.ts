/** The shapes shared by the tc attach files. */
import type { Direction } from '../netlink/index.js';

export type { Direction };
export type AttachMode = 'auto' | 'tcx' | 'clsact';

export interface AttachOptions {
  /** Interface name in the calling thread's network namespace. */
  iface: string;
  direction: Direction;
  /** 'auto' (default): a tcx link, or clsact + cls_bpf when the kernel has no tcx. */
  mode?: AttachMode;
  /** clsact only: filter priority 1..65535 (default: the kernel picks one, ahead of existing filters). */
  priority?: number;
  /** clsact only: cls_bpf handle (default: the kernel picks one). */
  handle?: number;
  /**
   * Stay attached after close() (the `bpfpipe attach` command): close() then only releases this
   * process's handles. A tcx link is pinned in LINK_PIN_DIR so it outlives the process; detachAll()
   * removes persistent attachments later.
   */
  persist?: boolean;
}

/** Where an attachment goes: resolved in the calling thread's network namespace. */
export interface Target {
  iface: string;
  ifindex: number;
  direction: Direction;
  /** Key of that network namespace (its cookie). */
  netns: string;
}

export interface ProgramRef {
  name: string;
  id: number;
  tag: string;
}

/** A program attached to a tc hook by this process. Closing detaches it (unless `persist`). */
export interface TcAttachment {
  readonly mode: 'tcx' | 'clsact';
  readonly iface: string;
  readonly ifindex: number;
  readonly direction: Direction;
  readonly program: ProgramRef;
  /** tcx: the BPF link id. */
  readonly linkId: number | undefined;
  /** tcx with persist: where the link is pinned. */
  readonly pinPath: string | undefined;
  /** clsact: the filter's identity, as the kernel assigned it. */
  readonly priority: number | undefined;
  readonly handle: number | undefined;
  /** clsact: TCA_BPF_NAME, "bpfpipe:<program name>". */
  readonly filterName: string | undefined;
  /** clsact: this attachment created the clsact qdisc. */
  readonly createdQdisc: boolean;
  readonly persist: boolean;
  readonly closed: boolean;
  /** Detach (unless persist) and release every fd. Idempotent; an interface that is gone is fine. */
  close(): void;
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}

/** One program found on a tc hook by listAttachments(). */
export interface AttachmentInfo {
  iface: string;
  ifindex: number;
  direction: Direction;
  mode: 'tcx' | 'clsact';
  /** Program id and tag; name is the kernel's program name ('' if the program could not be opened). */
  program: ProgramRef;
  /** Attached by bpfpipe (see state.ts: a "bpfpipe:" filter name, or a tcx link held by this process or pinned by bpfpipe). */
  ours: boolean;
  /** tcx: link id (0 for a program attached without a link). */
  linkId?: number;
  /** tcx: the pin of a persistent bpfpipe link. */
  pinPath?: string;
  /** tcx: held by a live attachment of this process. */
  thisProcess?: boolean;
  /** clsact filter identity and name. */
  priority?: number;
  handle?: number;
  protocol?: number;
  chain?: number;
  filterName?: string;
  directAction?: boolean;
}

export interface DetachOptions {
  iface: string;
  /** Default: both directions. */
  direction?: Direction;
}
