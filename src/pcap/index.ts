export { PcapngWriter, LINKTYPE_ETHERNET, LINKTYPE_RAW, type PacketOptions, type InterfaceOptions, type ByteSinkFn } from './pcapng-writer.js';
export { readCapture, readCaptureStream, sniffFormat, CaptureParser, type CaptureRecord, type CaptureFormat } from './reader.js';
