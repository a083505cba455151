/** Exit codes and one-line error reports of the bpfpipe command. */
import { BpfpipeError } from '../index.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Codes that mean the user's input (object, pcap, map, interface, flags, privileges) is the problem. */
const BAD_INPUT = new Set([
  'EBPF_USAGE', 'EBPF_BAD_INPUT', 'EBPF_BAD_OBJECT', 'EBPF_VERIFIER', 'EBPF_IFACE', 'EBPF_PIN', 'EBPF_PERM', 'EBPF_BUSY', 'EBPF_NOTSUP',
  // a userspace runtime fault: the program (the input) accessed memory outside its regions
  'EBPF_RUNTIME',
]);

export function exitCodeFor(err: unknown): number {
  if (err instanceof BpfpipeError) return BAD_INPUT.has(err.code) ? EXIT_USAGE : EXIT_FAILURE;
  const code = (err as { code?: string })?.code;
  if (typeof code === 'string' && code.startsWith('commander.')) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** The one line printed for an error (the verifier's own lines follow with --debug). */
export function describe(err: unknown): string {
  if (err instanceof BpfpipeError) return `bpfpipe: ${err.message} [${err.code}]`;
  if (err instanceof Error) return `bpfpipe: ${err.message}`;
  return `bpfpipe: ${String(err)}`;
}
