/** bpfpipe replay <obj.o> --pcap FILE: run the object's tc program over a capture in the userspace runtime. */
import * as fs from 'node:fs';
import { Command } from 'commander';
import { readCaptureStream, BadInputError, type CaptureRecord } from '../../index.js';
import { addOutputOptions, nonNegativeInt, positiveInt } from '../options.js';
import { addSinkOptions } from '../sinks.js';
import { Session } from '../session.js';
import { readSpec } from './common.js';
import { addRuntimeOptions, runUserspace, type UserspaceFlags } from '../userspace.js';

interface ReplayFlags extends UserspaceFlags {
  pcap: string;
  ifindex: number;
}

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_IPV4 = 228;
const LINKTYPE_IPV6 = 229;

/** The Ethernet frame tc would see for a captured packet (raw IP captures get a synthetic header). */
function frameOf(r: CaptureRecord, index: number): Uint8Array {
  if (r.linkType === LINKTYPE_ETHERNET) return r.data;
  if (r.linkType === LINKTYPE_RAW || r.linkType === LINKTYPE_IPV4 || r.linkType === LINKTYPE_IPV6) {
    const v6 = r.data.byteLength > 0 && r.data[0]! >> 4 === 6;
    const f = new Uint8Array(14 + r.data.byteLength);
    f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, v6 ? 0x86 : 0x08, v6 ? 0xdd : 0x00]);
    f.set(r.data, 14);
    return f;
  }
  throw new BadInputError(`packet ${index} of the capture has link type ${r.linkType}; replay takes Ethernet (1) or raw IP (101) captures`);
}

async function* chunks(path: string): AsyncGenerator<Uint8Array> {
  let stream: fs.ReadStream;
  try {
    fs.accessSync(path, fs.constants.R_OK);
    stream = fs.createReadStream(path, { highWaterMark: 1 << 20 });
  } catch (err) {
    throw new BadInputError(`cannot read capture '${path}': ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  for await (const c of stream) yield c as Buffer;
}

export function replayCommand(): Command {
  const c = new Command('replay')
    .description('run the object\'s tc program over a pcap/pcapng capture in the userspace eBPF runtime (no root, no kernel) and stream its events')
    .argument('<obj.o>', 'compiled eBPF object')
    .requiredOption('--pcap <file>', 'capture to replay (pcap or pcapng; - for stdin)')
    .option('--prog <name>', 'program to run (default: the only tc program)')
    .option('--map <name>', 'perf event array or ring buffer to read (default: the only one)')
    .option('--struct <name>', 'struct to decode events with (default: the one the object declares)')
    .option('--channel <k>', 'read channel K of the perf event array', nonNegativeInt('--channel'))
    .option('--ifindex <n>', 'skb->ifindex the program sees', positiveInt('--ifindex'), 1);
  addRuntimeOptions(c);
  addOutputOptions(c);
  addSinkOptions(c);
  return c.action(async (file: string, flags: ReplayFlags) => {
    const spec = readSpec(file);
    const session = new Session();
    try {
      await runUserspace(spec, flags, {
        ifindex: flags.ifindex,
        describe: flags.pcap === '-' ? 'the capture on stdin' : `the capture ${flags.pcap}`,
        async *frames() {
          let index = 0;
          const source = flags.pcap === '-' ? (process.stdin as AsyncIterable<Uint8Array>) : chunks(flags.pcap);
          for await (const rec of readCaptureStream(source)) yield { data: frameOf(rec, index++), tsNs: rec.timestampNs };
        },
      }, session);
    } finally {
      await session.close();
    }
  });
}
