/**
 * What tc and bpftool report for an interface, for before/after comparisons and leak checks: qdiscs,
 * filters of both clsact hooks, `bpftool net show`, and the BPF links of given programs (tcx links;
 * this bpftool does not list them per interface). All read with the tools themselves, not bpfpipe.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { TestNetns } from './netns.js';

export interface TcState {
  qdiscs: unknown[];
  ingress: unknown[];
  egress: unknown[];
  net: unknown;
}

const json = (s: string): unknown[] => (s.trim() === '' ? [] : (JSON.parse(s) as unknown[]));

/** The tc state of `dev` (default ns.dev) in ns's namespace. */
export function tcState(ns: TestNetns, dev = ns.dev): TcState {
  return {
    qdiscs: json(ns.run('tc', ['-j', 'qdisc', 'show', 'dev', dev])),
    ingress: json(ns.run('tc', ['-j', 'filter', 'show', 'dev', dev, 'ingress'])),
    egress: json(ns.run('tc', ['-j', 'filter', 'show', 'dev', dev, 'egress'])),
    net: JSON.parse(ns.run('bpftool', ['-j', 'net', 'show', 'dev', dev])),
  };
}

export interface BpfLinkRow {
  id: number;
  type: number | string;
  prog_id: number;
}

/** BPF links (of every namespace) whose program is one of `progIds`: a tcx link left behind shows here. */
export function linksOf(progIds: number[]): BpfLinkRow[] {
  const r = spawnSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bpftool link show failed: ${r.stderr}`);
  return (json(r.stdout) as BpfLinkRow[]).filter((l) => progIds.includes(l.prog_id));
}

/** No clsact/ingress qdisc, no filter on either hook, nothing in `bpftool net show`, on `dev`. */
export function assertTcClean(ns: TestNetns, dev = ns.dev): void {
  const s = tcState(ns, dev);
  const kinds = s.qdiscs.map((q) => (q as { kind: string }).kind);
  assert.ok(!kinds.includes('clsact') && !kinds.includes('ingress'), `qdiscs on ${dev}: ${kinds.join(', ')}`);
  assert.deepEqual(s.ingress, [], `ingress filters on ${dev}`);
  assert.deepEqual(s.egress, [], `egress filters on ${dev}`);
  assert.deepEqual(s.net, [{ xdp: [], tc: [], flow_dissector: [] }], `bpftool net show dev ${dev}`);
}
