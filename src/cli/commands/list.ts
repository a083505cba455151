/** bpfpipe list: tc programs per interface (bpfpipe's and others'), and the maps pinned in bpffs. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { orphanManifests } from '../manifest.js';
import { listAttachments, openPinned, BpfMap, mapTypeName, BPFFS_ROOT, type AttachmentInfo } from '../../index.js';

interface PinnedMap {
  path: string;
  id: number;
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

/** Maps pinned below `root` (depth-limited; unreadable entries are skipped). */
function pinnedMaps(root: string, depth = 4): PinnedMap[] {
  const out: PinnedMap[] = [];
  const walk = (dir: string, d: number) => {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const p = path.join(dir, n);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(p);
      } catch {
        continue;
      }
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) {
        if (d > 0) walk(p, d - 1);
        continue;
      }
      try {
        const { fd, kind } = openPinned(p);
        if (kind !== 'map') {
          fs.closeSync(fd);
          continue;
        }
        const m = new BpfMap(fd, n);
        out.push({ path: p, id: m.id, name: m.name, type: mapTypeName(m.type), keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries });
        m.close();
      } catch {
        /* not a BPF object (e.g. the kernel's iterator files) or not readable */
      }
    }
  };
  walk(root, depth);
  return out;
}

function row(a: AttachmentInfo): string {
  const who = a.ours ? 'bpfpipe' : 'other';
  const prog = `${a.program.name || '?'} (id ${a.program.id})`;
  const detail = a.mode === 'tcx' ? `link ${a.linkId ?? '-'}${a.pinPath ? ` pinned ${a.pinPath}` : ''}` : `pref ${a.priority} handle 0x${(a.handle ?? 0).toString(16)}${a.filterName ? ` name ${a.filterName}` : ''}`;
  return `${a.iface.padEnd(12)} ${a.direction.padEnd(7)} ${a.mode.padEnd(6)} ${who.padEnd(7)} ${prog}  ${detail}`;
}

export function listCommand(): Command {
  return new Command('list')
    .description('list tc programs per interface (bpfpipe\'s and others\') and the maps pinned in bpffs')
    .option('--iface <dev>', 'only this interface')
    .option('--json', 'print JSON')
    .action(async (flags: { iface?: string; json?: boolean }) => {
      const attachments = await listAttachments(flags.iface);
      const maps = pinnedMaps(BPFFS_ROOT);
      const left = orphanManifests().map(({ manifest: m }) => ({ program: m.program, iface: m.iface, direction: m.direction, pid: m.pid, pins: m.pins.filter((p) => fs.existsSync(p)) }));
      if (flags.json) {
        process.stdout.write(JSON.stringify({ attachments, pinnedMaps: maps, leftInDeletedNetns: left }, null, 2) + '\n');
        return;
      }
      process.stdout.write('tc programs:\n');
      if (attachments.length === 0) process.stdout.write('  (none)\n');
      for (const a of attachments) process.stdout.write(`  ${row(a)}\n`);
      process.stdout.write('pinned maps:\n');
      if (maps.length === 0) process.stdout.write('  (none)\n');
      for (const m of maps) process.stdout.write(`  ${m.path}  ${m.type} id ${m.id} key ${m.keySize} value ${m.valueSize} max ${m.maxEntries}\n`);
      if (left.length > 0) {
        process.stdout.write('left behind in deleted network namespaces (bpfpipe detach --gone removes them):\n');
        for (const l of left) process.stdout.write(`  ${l.program} on ${l.iface} ${l.direction}${l.pid !== undefined ? ` by bpfpipe run (pid ${l.pid})` : ''}: ${l.pins.join(', ') || 'no pins'}\n`);
      }
    });
}
