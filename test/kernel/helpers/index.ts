/** Test helpers for kernel tests that need an interface: namespaces, tc state, leaks, bpffs, a counter program. */
export { withNetns, createNetns, bpfpipeStateOf, type TestNetns, type RunResult } from './netns.js';
export { tcState, linksOf, assertTcClean, type TcState, type BpfLinkRow } from './tc-state.js';
export { BpffsGuard, bpffsEntries, TC_BPFFS_PATHS } from './bpffs.js';
export { fdSnapshot, assertNoFdLeak, assertNothingLeft, bpfpipeStateFor } from './leaks.js';
import { kernelHasTcx } from './counter.js';
export { loadCounter, eventually, kernelHasTcx, type Counter } from './counter.js';
/** A skip reason for tcx-only tests on kernels without tcx (false where tcx exists). */
export const NO_TCX: string | false = kernelHasTcx() ? false : 'this kernel has no tcx hooks (Linux 6.6+)';
export { startAttachChild, type AttachChild } from './child.js';
