/** bpfpipe listen <pinned-map>: read a pinned perf event array or ring buffer (e.g. pinned by tc). */
import * as fs from 'node:fs';
import { Command } from 'commander';
import { openPinnedMap, openEvents, ObjectSpec, UsageError, BadInputError, PinError } from '../../index.js';
import { privateBpffsHint, CLI_READER } from './common.js';
import { addOutputOptions, nonNegativeInt, slotList, pagesPerCpu, type OutputFlags } from '../options.js';
import { pipeline } from '../pipeline.js';
import { addSinkOptions, createSinks, sinksWantRecords, type SinkFlags } from '../sinks.js';
import { Session } from '../session.js';

interface ListenFlags extends OutputFlags, SinkFlags {
  channel?: number;
  slots?: number[];
  btf?: string;
  struct?: string;
  pages?: number;
  timestamps: boolean;
}

export function listenCommand(): Command {
  const c = new Command('listen')
    .description('read events from a pinned perf event array or ring buffer (e.g. /sys/fs/bpf/tc/globals/events)')
    .argument('<pinned-map>', 'path of the pinned map in bpffs')
    .option('--channel <k>', 'read channel K: slots [K*ncpu, (K+1)*ncpu)', nonNegativeInt('--channel'))
    .option('--slots <list>', 'read these perf event array slots (e.g. 0,1)', slotList)
    .option('--btf <obj.o>', 'object whose BTF describes the events')
    .option('--struct <name>', 'struct to decode each event with (default: the one the object declares for the map)')
    .option('--pages <n>', 'pages per perf ring (power of two; default 1024 = 4 MiB per CPU)', pagesPerCpu, 1024)
    .option('--no-timestamps', 'do not ask the kernel to timestamp perf samples');
  addOutputOptions(c);
  addSinkOptions(c);
  return c.action(async (path: string, flags: ListenFlags) => {
    if (flags.channel !== undefined && flags.slots) throw new UsageError('give either --channel or --slots, not both');
    if (flags.struct && !flags.btf) throw new UsageError('--struct needs --btf OBJ (the object whose BTF has the struct)');
    let spec: ObjectSpec | undefined;
    if (flags.btf) {
      let bytes: Uint8Array;
      try {
        bytes = fs.readFileSync(flags.btf);
      } catch (err) {
        throw new BadInputError(`cannot read object file '${flags.btf}': ${(err as Error).message}`);
      }
      spec = ObjectSpec.parse(bytes);
    }
    const session = new Session();
    try {
      const map = session.own(
        'map',
        await openPinnedMap(path).catch((err: unknown) => {
          const hint = err instanceof PinError ? privateBpffsHint() : '';
          throw hint ? new PinError(path, `${(err as Error).message}${hint}`, { cause: err }) : err;
        }),
        (m) => m.close(),
      );
      let struct: string | number | undefined = flags.struct;
      if (spec && struct === undefined) struct = spec.eventType(map.name);
      const reader = session.own(
        'reader',
        await openEvents(map, {
          channel: flags.channel,
          slots: flags.slots,
          struct,
          btf: spec,
          pagesPerCpu: flags.pages,
          timestamps: flags.timestamps && (flags.format !== 'none' || sinksWantRecords(flags)),
          ...CLI_READER,
        }),
        (r) => r.close(),
      );
      const timestamps = flags.timestamps && (flags.format !== 'none' || sinksWantRecords(flags)) && map.type === 4;
      const sinks = await createSinks(flags, session, { name: map.name, ringBytes: map.type === 4 ? (flags.pages ?? 1024) * 4096 : map.maxEntries, timestamps, title: `${map.name} (${path})` });
      map.close(); // the reader holds its own file on the map
      const result = await pipeline({ ...flags, session, reader, consumers: sinks.consumers });
      await sinks.finish(result); // the summary line, with the sinks' counts
    } finally {
      await session.close();
    }
  });
}
