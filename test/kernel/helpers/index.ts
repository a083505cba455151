/** Test helpers for kernel tests that need an interface: namespaces, tc state, leaks, bpffs, a counter program. */
export { withNetns, createNetns, bpfpipeStateOf, type TestNetns, type RunResult } from './netns.js';
export { tcState, linksOf, assertTcClean, type TcState, type BpfLinkRow } from './tc-state.js';
export { BpffsGuard, bpffsEntries, TC_BPFFS_PATHS } from './bpffs.js';
export { fdSnapshot, assertNoFdLeak, assertNothingLeft, bpfpipeStateFor } from './leaks.js';
export { loadCounter, eventually, type Counter } from './counter.js';
export { startAttachChild, type AttachChild } from './child.js';
