/** bpfpipe detach --iface DEV: remove what bpfpipe attached (also after a crash) and what `attach` pinned. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { detachAll, ifaceIndex, type DetachResult } from '../../index.js';
import { readManifests, alive } from '../manifest.js';

interface DetachFlags {
  iface: string;
  ingress?: boolean;
  egress?: boolean;
  pin?: string;
}

export function detachCommand(): Command {
  return new Command('detach')
    .description('detach every program bpfpipe attached to an interface (also after a crash) and remove the pins `bpfpipe attach` made')
    .requiredOption('--iface <dev>', 'network interface')
    .option('--ingress', 'only ingress')
    .option('--egress', 'only egress')
    .option('--pin <dir>', 'only remove pins under DIR')
    .action(async (flags: DetachFlags) => {
      const dir = flags.ingress && !flags.egress ? 'ingress' : flags.egress && !flags.ingress ? 'egress' : undefined;
      ifaceIndex(flags.iface); // a missing interface is a usage error
      const result = await detachAll({ iface: flags.iface, direction: dir });
      for (const line of describeDetach(result)) process.stdout.write(`${line}\n`);
      const only = flags.pin ? path.resolve(flags.pin) : undefined;
      for (const { file, manifest } of readManifests(flags.iface, dir)) {
        if (manifest.pid !== undefined && alive(manifest.pid)) {
          process.stdout.write(`kept the pins of bpfpipe run (pid ${manifest.pid}), which is still running\n`);
          continue;
        }
        for (const p of manifest.pins) {
          if (only && path.dirname(p) !== only) continue;
          try {
            fs.unlinkSync(p);
            process.stdout.write(`unpinned ${p}\n`);
          } catch {
            /* already gone */
          }
        }
        for (const d of [...manifest.dirs].sort((a, b) => b.length - a.length)) {
          try {
            fs.rmdirSync(d);
          } catch {
            /* not empty: someone else's pins live there */
          }
        }
        fs.rmSync(file, { force: true });
      }
    });
}

function describeDetach(r: DetachResult): string[] {
  const lines = r.removed.map((a) => `detached ${a.program.name || `program ${a.program.id}`} (${a.mode}, ${a.direction})`);
  if (r.qdiscRemoved) lines.push('removed the clsact qdisc bpfpipe had created');
  if (lines.length === 0) lines.push('nothing of bpfpipe was attached');
  return lines;
}
