/**
 * bpfpipe — the Linux eBPF event output pipe for Node.js. The explicit public API: the CLI uses only
 * what is exported here.
 */
import './sys/index.js'; // registers the real kernel behind the Kernel seam

// errors
export {
  BpfpipeError,
  BadObjectError,
  BadInputError,
  UsageError,
  VerifierError,
  PermissionError,
  NotSupportedError,
  NetlinkError,
  InterfaceError,
  PinError,
  BusyError,
  RuntimeFault,
  ClosedError,
  SyscallError,
  Errno,
  type ErrorCode,
} from './errors.js';

// observability (node:diagnostics_channel)
export {
  channels,
  type ReaderRef,
  type ReaderOpenMessage,
  type ReaderDrainMessage,
  type ReaderLostMessage,
  type ReaderCloseMessage,
  type ProgramLoadMessage,
  type TcAttachMessage,
} from './diagnostics.js';

// object spec (pure)
export { ObjectSpec } from './object/object-spec.js';
export type { ProgramSpec, MapSpec, MapRef, Pinning, ProgramKind } from './object/types.js';
export { MapType, ProgType, AttachType, Helper, mapTypeName, progTypeName } from './object/uapi.js';
export { Btf } from './btf/btf.js';
export { compileDecoder, type StructDecoder } from './btf/decoder.js';
export { generateTypeScript } from './btf/gen.js';

// kernel objects
export { loadObject, loadObjectSync, openPinnedMap, openPinnedMapSync, DEFAULT_PIN_DIR, type LoadOptions, type LoadedObject } from './kernel/load.js';
export { BpfMap, openMapById, type MapOrigin } from './kernel/map.js';
export { Program, openProgramById, type TestRunOptions, type TestRunResult } from './kernel/program.js';
export { openPinned, unpin } from './kernel/pin.js';

// tc attach
export {
  attachTc, attachTcSync, listAttachments, listAttachmentsSync, detachAll, detachAllSync, cleanupOnSignals,
  FILTER_NAME_PREFIX, LINK_PIN_DIR,
  type AttachMode, type AttachOptions, type AttachmentInfo, type DetachOptions, type DetachResult, type Direction, type TcAttachment,
} from './attach/index.js';

// event pipe
export { openEvents, structDecoder, type EventsOptions } from './ring/events.js';
export { EventReader } from './ring/reader.js';
export { EventBatch } from './ring/batch.js';
export type { RingEvent, Sample, Lost, ReaderStats } from './ring/types.js';
export {
  sampleRecord, lostRecord, batchRecords, jsonSafe, hex,
  type EventRecord, type SampleRecord, type LostRecord, type RecordOptions, type Json,
} from './decode/json.js';

// packets and captures (pure)
export { decodePacket, hexdump, type DecodedPacket, type LinkType } from './decode/packet.js';
export {
  PcapngWriter, readCapture, readCaptureStream, sniffFormat, CaptureParser, LINKTYPE_ETHERNET, LINKTYPE_RAW,
  type CaptureRecord, type PacketOptions, type InterfaceOptions,
} from './pcap/index.js';

// machine facts
export { missingCapabilities, type CapName } from './sys/index.js';
export { possibleCpus, onlineCpus, ensureBpffs, privateBpffs, BPFFS_ROOT, ifaceIndex, ifaceName, enterNetns, netnsCookie, setAffinity, listOpenFds } from './sys/index.js';
export { PacketSocket, PACKET_OUTGOING, type PacketFrame } from './sys/index.js';
export { idleOtherThreads, type IdledThreads, type IdleOptions } from './sys/index.js';

// sinks: Prometheus metrics, NATS JetStream, the live web view
export {
  registerEventMetrics, EventMetrics, registerNatsMetrics, listenHttp, serveMetrics,
  NatsPublisher, defaultIdPrefix, ensureStream, findStream, defaultSubject, subjectProblem, subjectToken, messageRecord, DEFAULT_STREAM,
  WebView, WebState, fieldGetter, labelValue, LabelLimiter, TopValues,
  type EventMetricsOptions, type SinkCounts, type HttpListener, type ListenAddress, type NatsSinkOptions, type NatsStats, type NatsFormat,
  type WebViewOptions, type WebStateOptions, type FieldGetter, type TopEntry,
} from './sinks/index.js';

// userspace runtime (pure: no kernel)
export { Runtime, RuntimeProgram, type RuntimeOptions, type RunOptions, type RunResult, type RuntimeEventsOptions } from './runtime/runtime.js';
export { RuntimeReader } from './runtime/reader.js';
export type { RuntimeMap } from './runtime/maps.js';
