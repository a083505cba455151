/** bpfpipe detach --iface DEV: remove what bpfpipe attached (also after a crash) and what `attach` pinned. */
import * as path from 'node:path';
import { Command } from 'commander';
import { detachAll, ifaceIndex, UsageError, type DetachResult } from '../../index.js';
import { readManifests, alive, orphanManifests, removeManifestPins } from '../manifest.js';

interface DetachFlags {
  iface?: string;
  ingress?: boolean;
  egress?: boolean;
  pin?: string;
  gone?: boolean;
}

export function detachCommand(): Command {
  return new Command('detach')
    .description('detach every program bpfpipe attached to an interface (also after a crash) and remove the pins `bpfpipe attach` made')
    .option('--iface <dev>', 'network interface')
    .option('--ingress', 'only ingress')
    .option('--egress', 'only egress')
    .option('--pin <dir>', 'only remove pins under DIR')
    .option('--gone', 'remove the pins of bpfpipe runs killed in network namespaces that no longer exist (see bpfpipe list)')
    .action(async (flags: DetachFlags) => {
      if (!flags.iface && !flags.gone) throw new UsageError('give --iface DEV (or --gone for what deleted network namespaces left behind)');
      const only = flags.pin ? path.resolve(flags.pin) : undefined;
      if (flags.gone) {
        const orphans = orphanManifests();
        for (const { file, manifest: m } of orphans) {
          const removed = removeManifestPins(file, m, only);
          process.stdout.write(`removed what ${m.pid !== undefined ? `bpfpipe run (pid ${m.pid})` : 'bpfpipe attach'} left of ${m.program} on ${m.iface} ${m.direction} in a deleted network namespace${removed.length ? `: ${removed.join(', ')}` : ''}\n`);
        }
        if (orphans.length === 0) process.stdout.write('nothing was left behind in deleted network namespaces\n');
        if (!flags.iface) return;
      }
      const iface = flags.iface!;
      const dir = flags.ingress && !flags.egress ? 'ingress' : flags.egress && !flags.ingress ? 'egress' : undefined;
      ifaceIndex(iface); // a missing interface is a usage error
      const result = await detachAll({ iface, direction: dir });
      for (const line of describeDetach(result)) process.stdout.write(`${line}\n`);
      for (const { file, manifest } of readManifests(iface, dir)) {
        if (manifest.pid !== undefined && alive(manifest.pid)) {
          process.stdout.write(`kept the pins of bpfpipe run (pid ${manifest.pid}), which is still running\n`);
          continue;
        }
        for (const p of removeManifestPins(file, manifest, only)) process.stdout.write(`unpinned ${p}\n`);
      }
    });
}

function describeDetach(r: DetachResult): string[] {
  const lines = r.removed.map((a) => `detached ${a.program.name || `program ${a.program.id}`} (${a.mode}, ${a.direction})`);
  if (r.qdiscRemoved) lines.push('removed the clsact qdisc bpfpipe had created');
  if (lines.length === 0) lines.push('nothing of bpfpipe was attached');
  return lines;
}
