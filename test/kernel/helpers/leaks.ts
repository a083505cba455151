/**
 * Leak checks for attach tests: fds (from test/support/leaks.ts), tc state of an interface, BPF links
 * of given programs, and bpfpipe's own bookkeeping (clsact markers, tcx link pins) for a namespace.
 */
import assert from 'node:assert/strict';
import { bpfpipeStateOf, type TestNetns } from './netns.js';
import { assertTcClean, linksOf } from './tc-state.js';

export { fdSnapshot, assertNoFdLeak } from '../../support/leaks.js';

/** bpfpipe's clsact markers and tcx link pins for the test namespace. */
export function bpfpipeStateFor(ns: TestNetns): string[] {
  return bpfpipeStateOf(ns.key);
}

/**
 * Nothing left on `dev`: no clsact qdisc, filter or `bpftool net` entry, no link of these programs,
 * no bpfpipe marker or pin for the namespace.
 */
export function assertNothingLeft(ns: TestNetns, progIds: number[], dev = ns.dev): void {
  assertTcClean(ns, dev);
  assert.deepEqual(linksOf(progIds), [], 'BPF links of the test programs');
  assert.deepEqual(bpfpipeStateFor(ns), [], 'bpfpipe markers and pins');
}
