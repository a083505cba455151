/** bpfpipe run <obj.o> --iface DEV: load, attach to tc, stream events, detach on exit. */
import { Command } from 'commander';
import { loadObject, attachTc, openEvents, DEFAULT_PIN_DIR } from '../../index.js';
import { addOutputOptions, nonNegativeInt, pagesPerCpu, type OutputFlags } from '../options.js';
import { pickProgram, pickEventMap, pickStruct } from '../pick.js';
import { pipeline } from '../pipeline.js';
import { Session } from '../session.js';
import { requireCapabilities } from '../privileges.js';
import { OtherChannels } from '../other-channels.js';
import { CLI_READER, readSpec, addDirectionOptions, direction, attachMode, requireSharedBpffs } from './common.js';
import { writeManifest, removeManifest, netnsInode, intendedPins, missingDirs } from '../manifest.js';
import { addSinkOptions, createSinks, sinksWantRecords, type SinkFlags } from '../sinks.js';
import { addRuntimeOptions, type UserspaceFlags } from '../userspace.js';
import { runOnInterfaceInUserspace } from './run-userspace.js';

interface RunFlags extends OutputFlags, SinkFlags, Omit<UserspaceFlags, keyof OutputFlags | keyof SinkFlags> {
  userspace?: boolean;
  iface: string;
  ingress?: boolean;
  egress?: boolean;
  prog?: string;
  map?: string;
  struct?: string;
  attach: string;
  pin?: string;
  channel?: number;
  pages?: number;
  timestamps: boolean;
}

export function runCommand(): Command {
  const c = new Command('run')
    .description('load an object, attach its tc program to an interface, and stream its events until stopped')
    .argument('<obj.o>', 'compiled eBPF object')
    .requiredOption('--iface <dev>', 'network interface to attach to')
    .option('--prog <name>', 'program to attach (default: the only tc program)')
    .option('--map <name>', 'perf event array or ring buffer to read (default: the only one)')
    .option('--struct <name>', 'struct to decode events with (default: the one the object declares)')
    .option('--attach <mode>', 'auto (tcx when the kernel has it, else clsact), tcx or clsact', 'auto')
    .option('--pin <dir>', 'pin the maps that ask for pinning under DIR and keep them after exit')
    .option('--channel <k>', 'read channel K of the perf event array', nonNegativeInt('--channel'))
    .option('--pages <n>', 'pages per perf ring (power of two; default 1024 = 4 MiB per CPU)', pagesPerCpu, 1024)
    .option('--no-timestamps', 'do not ask the kernel to timestamp perf samples')
    .option('--userspace', 'run the program in bpfpipe\'s userspace eBPF runtime over the interface\'s frames (AF_PACKET; needs only CAP_NET_RAW) instead of the kernel');
  addRuntimeOptions(c, { slots: false });
  addDirectionOptions(c);
  addOutputOptions(c);
  addSinkOptions(c);
  return c.action(async (file: string, flags: RunFlags) => {
    const spec = readSpec(file);
    if (flags.userspace) return runOnInterfaceInUserspace(spec, flags, direction(flags));
    const prog = pickProgram(spec, flags.prog);
    const map = pickEventMap(spec, flags.map, prog);
    requireCapabilities('run', ['BPF', 'NET_ADMIN', 'PERFMON']);
    const struct = pickStruct(spec, map.name, flags.struct);
    const mode = attachMode(flags.attach);
    const dir = direction(flags);
    const session = new Session();
    try {
      const timestamps = flags.timestamps && map.type === 4 && (flags.format !== 'none' || sinksWantRecords(flags));
      const sinks = await createSinks(flags, session, { name: prog.name, ringBytes: map.type === 4 ? (flags.pages ?? 1024) * 4096 : map.maxEntries, timestamps, title: `${prog.name} on ${flags.iface} ${dir}` });
      const pinDir = flags.pin ?? DEFAULT_PIN_DIR;
      if (flags.pin) requireSharedBpffs(pinDir);
      if (!flags.pin) {
        // Temporary pins: recorded before loading, so that `bpfpipe detach` removes them if this
        // process is killed (they are removed at exit otherwise).
        const pins = intendedPins(spec.maps, pinDir);
        if (pins.length > 0) {
          const m = { iface: flags.iface, direction: dir, netns: netnsInode(), program: prog.name };
          writeManifest({ ...m, object: file, mode: mode === 'clsact' ? 'clsact' : 'tcx', pins, dirs: missingDirs(pinDir), created: new Date().toISOString(), pid: process.pid });
          session.own('manifest', m, removeManifest);
        }
      }
      const obj = session.own('object', await loadObject(file, { pinDir, keepPins: flags.pin !== undefined, programs: [prog.name] }), (o) => o.close());
      const reader = session.own(
        'reader',
        await openEvents(obj.map(map.name), {
          channel: flags.channel,
          struct,
          pagesPerCpu: flags.pages,
          timestamps,
          ...CLI_READER,
        }),
        (r) => r.close(),
      );
      const others = OtherChannels.watch(obj, map.name, flags.channel ?? 0);
      // Attached only once the rings are in place: no event of the first packets is lost.
      const attachment = session.own('attachment', await attachTc(obj.program(prog.name), { iface: flags.iface, direction: dir, mode }), (a) => a.close());
      if (process.stderr.isTTY) process.stderr.write(`bpfpipe: ${prog.name} attached to ${flags.iface} ${dir} (${attachment.mode}); reading ${map.name}\n`);
      const result = await pipeline({ ...flags, session, reader, consumers: sinks.consumers });
      await sinks.finish(result); // the summary line, with the sinks' counts
      const note = others?.note();
      if (note) process.stderr.write(`${note}\n`);
    } finally {
      await session.close();
    }
  });
}
