/** src/netlink: a pure rtnetlink codec (no sockets, no I/O). The attach layer drives it over sys/. */
export * from './constants.js';
export { NlWriter, Attrs, parseAttrs, align4, type Attr } from './attributes.js';
export {
  decodeHeader, beginMessage, finishMessage, parseMessages, familyHeader,
  type NetlinkHeader, type NetlinkMessage, type RequestHeader,
} from './message.js';
export { NetlinkStreamDecoder } from './stream.js';
export { decodeAck, decodeDone, netlinkFailure, type Ack, type Done, type ExtAck } from './ack.js';
export {
  writeTcMsg, readTcMsg, tcHandle, formatTcHandle, clsactParent, clsactDirection, filterInfo, decodeFilterInfo,
  type TcMsg, type Direction,
} from './tcmsg.js';
export {
  encodeClsactAdd, encodeClsactDelete, encodeQdiscDump, decodeQdisc, isClsact, CLSACT_HANDLE, CLSACT_PARENT,
  type TcQdisc, type QdiscRequest,
} from './qdisc.js';
export {
  encodeBpfFilterAdd, encodeFilterDelete, encodeFilterGet, encodeFilterDump, decodeFilter,
  type FilterId, type BpfFilterAdd, type BpfFilterOptions, type TcFilter, type EncodeOptions,
} from './filter.js';
export { encodeLinkDump, decodeLink, type LinkEntry } from './link.js';
export { ReplyCollector } from './reply.js';
