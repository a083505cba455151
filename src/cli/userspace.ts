/**
 * The userspace runtime behind `replay`, `run --userspace` and the demo without privileges: frames from a
 * source (a capture, an interface's AF_PACKET socket) run through the object's tc program in bpfpipe's own
 * eBPF runtime; its events go through the same outputs, sinks and summary as the kernel's.
 */
import { Runtime, UsageError, type ObjectSpec } from '../index.js';
import { nonNegativeInt, positiveInt, slotList, type OutputFlags } from './options.js';
import { pickProgram, pickEventMap, pickStruct } from './pick.js';
import { pipeline } from './pipeline.js';
import { createSinks, type SinkFlags } from './sinks.js';
import type { Session } from './session.js';
import type { Command } from 'commander';

export interface UserspaceFlags extends OutputFlags, SinkFlags {
  prog?: string;
  map?: string;
  struct?: string;
  channel?: number;
  slots?: number[];
  cpus: number;
  seed: number;
  interpreter?: boolean;
}

export interface Frame {
  data: Uint8Array;
  /** bpf_ktime_get_ns for this run (capture time); default CLOCK_MONOTONIC now. */
  tsNs?: bigint;
}

export interface UserspaceSource {
  /** Frames until the source ends; `stopped()` turns true when the run is over. */
  frames(stopped: () => boolean): AsyncIterable<Frame>;
  /** skb->ifindex the program sees. */
  ifindex: number;
  /** "replaying X", "frames of eth0 ingress": for the banner. */
  describe: string;
  /** End frames() early (the run is over: --count, --duration, a signal, a failed output). */
  stop?(): void;
  /** Print the banner even when stderr is not a terminal (run --userspace: where events come from is news). */
  announce?: boolean;
}

/** The runtime's own options (replay and run --userspace). */
export function addRuntimeOptions(c: Command, { slots = true } = {}): Command {
  if (slots) c.option('--slots <list>', 'read these perf event array slots', slotList);
  return c
    .option('--cpus <n>', 'number of CPUs the runtime simulates (programs run on CPU 0)', positiveInt('--cpus'), 1)
    .option('--seed <n>', 'seed of bpf_get_prandom_u32', nonNegativeInt('--seed'), 1)
    .option('--interpreter', 'use the reference interpreter instead of the compiled path');
}

/** Run the object's program over every frame of `source`, streaming its events; prints the summary. */
export async function runUserspace(spec: ObjectSpec, flags: UserspaceFlags, source: UserspaceSource, session: Session): Promise<void> {
  if (flags.channel !== undefined && flags.slots) throw new UsageError('give either --channel or --slots, not both');
  const prog = pickProgram(spec, flags.prog);
  const map = pickEventMap(spec, flags.map, prog);
  const struct = pickStruct(spec, map.name, flags.struct);
  const rt = Runtime.load(spec, {
    programs: [prog.name],
    ncpus: flags.cpus,
    seed: flags.seed,
    mode: flags.interpreter ? 'interpreter' : 'compiled',
    onTrace: (l) => process.stderr.write(`trace: ${l}\n`),
  });
  const program = rt.program(prog.name);
  const reader = session.own('reader', rt.openEvents(map.name, { channel: flags.channel, slots: flags.slots, struct }), (r) => r.close());
  const sinks = await createSinks(flags, session, { name: prog.name, ringBytes: reader.capacityBytes, timestamps: true, title: `${prog.name} (userspace runtime)` });
  if (source.announce || process.stderr.isTTY) process.stderr.write(`bpfpipe: ${prog.name} runs in bpfpipe's userspace eBPF runtime (nothing is loaded into the kernel) over ${source.describe}; reading ${map.name}\n`);
  let packets = 0;
  let stopped = false;
  const stop = () => {
    stopped = true;
    source.stop?.();
  };
  session.onStop(stop);
  const feed = (async () => {
    try {
      for await (const f of source.frames(() => stopped)) {
        if (stopped) break;
        program.run(f.data, { tsNs: f.tsNs, ifindex: source.ifindex });
        packets++;
        // The runtime waits for the reader instead of overflowing its rings: nothing is lost.
        if (reader.queued > reader.capacityBytes / 2) await reader.drained();
      }
    } finally {
      await reader.close();
    }
  })();
  const piped = pipeline({ ...flags, session, reader, consumers: sinks.consumers }).finally(stop);
  const [result] = await Promise.all([piped, feed]);
  await sinks.finish(result, `, packets ${packets} (userspace runtime)`);
}
