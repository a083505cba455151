/**
 * What bpfpipe remembers about its tc attachments, so that it can tell its own from others' — also
 * after a crash:
 * - clsact filters carry the name "bpfpipe:<program>" (TCA_BPF_NAME), visible to any process;
 * - a clsact qdisc that bpfpipe created has a marker file in /run/bpfpipe/clsact (qdiscs have no
 *   name), so the last bpfpipe filter to go also removes the qdisc, and only that qdisc;
 * - tcx links of live attachments are known to this process; persistent ones are pinned in
 *   /sys/fs/bpf/bpfpipe/links. An unpinned tcx link dies with its process, so there is nothing to
 *   recover after a SIGKILL.
 * Interface indexes are per network namespace: markers and pins are keyed by the namespace's cookie
 * (never reused while the machine is up, unlike its inode number).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { netnsKey } from '../sys/netns.js';
import type { Direction, TcAttachment } from './types.js';
import { diag } from '../diagnostics.js';

export const FILTER_NAME_PREFIX = 'bpfpipe:';
export const LINK_PIN_DIR = '/sys/fs/bpf/bpfpipe/links';
export const CLSACT_MARKER_DIR = '/run/bpfpipe/clsact';

/** The filter name bpfpipe gives a program's cls_bpf filter. */
export function filterNameFor(programName: string): string {
  return `${FILTER_NAME_PREFIX}${programName}`;
}

export function isOurFilterName(name: string | undefined): boolean {
  return name !== undefined && name.startsWith(FILTER_NAME_PREFIX);
}

/** Identity of the calling thread's network namespace ("c<cookie>"). */
export function netnsId(): string {
  return netnsKey();
}

// --- clsact markers ------------------------------------------------------------------------------

const markerPath = (ns: string, ifindex: number) => path.join(CLSACT_MARKER_DIR, `${ns}-${ifindex}`);

export function markClsactCreated(ns: string, ifindex: number, iface: string): void {
  fs.mkdirSync(CLSACT_MARKER_DIR, { recursive: true, mode: 0o755 });
  fs.writeFileSync(markerPath(ns, ifindex), JSON.stringify({ iface, ifindex, netns: ns, pid: process.pid, created: new Date().toISOString() }) + '\n');
}

export function clsactMarked(ns: string, ifindex: number): boolean {
  return fs.existsSync(markerPath(ns, ifindex));
}

export function unmarkClsact(ns: string, ifindex: number): void {
  fs.rmSync(markerPath(ns, ifindex), { force: true });
  removeIfEmpty(CLSACT_MARKER_DIR);
}

// --- tcx link pins -------------------------------------------------------------------------------

export function tcxPinPath(ns: string, ifindex: number, direction: Direction, linkId: number): string {
  return path.join(LINK_PIN_DIR, `tcx-${ns}-${ifindex}-${direction}-${linkId}`);
}

export interface TcxPin {
  path: string;
  ifindex: number;
  direction: Direction;
  linkId: number;
}

/** The persistent tcx links bpfpipe pinned in namespace `ns`. */
export function listTcxPins(ns: string): TcxPin[] {
  let names: string[];
  try {
    names = fs.readdirSync(LINK_PIN_DIR);
  } catch {
    return [];
  }
  const out: TcxPin[] = [];
  for (const n of names) {
    const m = /^tcx-((?:c|ino)\d+)-(\d+)-(ingress|egress)-(\d+)$/.exec(n);
    if (!m || m[1] !== ns) continue;
    out.push({ path: path.join(LINK_PIN_DIR, n), ifindex: Number(m[2]), direction: m[3] as Direction, linkId: Number(m[4]) });
  }
  return out;
}

/** Remove the link pin directory (and /sys/fs/bpf/bpfpipe) when nothing is left in them. */
export function tidyLinkPinDir(): void {
  removeIfEmpty(LINK_PIN_DIR);
  removeIfEmpty(path.dirname(LINK_PIN_DIR));
}

function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    /* not empty, or gone */
  }
}

// --- live attachments of this process --------------------------------------------------------------

export interface LiveAttachment extends TcAttachment {
  readonly netns: string;
}

const live = new Set<LiveAttachment>();

export function register(a: LiveAttachment): void {
  live.add(a);
  if (diag.tcAttach.active) diag.tcAttach.publish({ attachment: a });
}

/** `a` is being closed (detached, unless it persists). */
export function unregister(a: LiveAttachment): void {
  live.delete(a);
  if (diag.tcDetach.active) diag.tcDetach.publish({ attachment: a });
}

export function liveAttachments(): LiveAttachment[] {
  return [...live];
}
