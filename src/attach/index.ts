/** src/attach: tc attach and detach (tcx links; clsact + cls_bpf direct-action), listing, cleanup. */
export { attachTc, attachTcSync } from './auto.js';
export { listAttachments, listAttachmentsSync, detachAll, detachAllSync, type DetachResult } from './list.js';
export { cleanupOnSignals, type Closeable, type SignalGuard, type SignalOptions } from './signals.js';
export { FILTER_NAME_PREFIX, LINK_PIN_DIR, CLSACT_MARKER_DIR } from './state.js';
export type { AttachMode, AttachOptions, AttachmentInfo, DetachOptions, Direction, ProgramRef, TcAttachment } from './types.js';
