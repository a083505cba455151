/** bpfpipe attach <obj.o> --iface DEV --pin DIR: attach and stay attached, maps pinned for listeners. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { loadObject, attachTc, UsageError } from '../../index.js';
import { pickProgram } from '../pick.js';
import { requireCapabilities } from '../privileges.js';
import { readSpec, addDirectionOptions, direction, attachMode, requireSharedBpffs } from './common.js';
import { writeManifest, removeManifest, netnsInode, intendedPins, missingDirs } from '../manifest.js';

interface AttachFlags {
  iface: string;
  ingress?: boolean;
  egress?: boolean;
  prog?: string;
  attach: string;
  pin: string;
  pinMode?: string;
}

export function attachCommand(): Command {
  const c = new Command('attach')
    .description('load an object and attach its tc program to an interface; it stays attached, with its maps pinned under DIR')
    .argument('<obj.o>', 'compiled eBPF object')
    .requiredOption('--iface <dev>', 'network interface to attach to')
    .requiredOption('--pin <dir>', 'bpffs directory for the maps (e.g. /sys/fs/bpf/tc/globals)')
    .option('--prog <name>', 'program to attach (default: the only tc program)')
    .option('--attach <mode>', 'auto, tcx or clsact', 'auto')
    .option('--pin-mode <octal>', 'file mode of the pins (default 0600: root only)');
  addDirectionOptions(c);
  return c.action(async (file: string, flags: AttachFlags) => {
    const spec = readSpec(file);
    const prog = pickProgram(spec, flags.prog);
    requireCapabilities('attach', ['BPF', 'NET_ADMIN']);
    const dir = direction(flags);
    const mode = attachMode(flags.attach);
    let pinMode: number | undefined;
    if (flags.pinMode !== undefined) {
      if (!/^0?[0-7]{3}$/.test(flags.pinMode)) throw new UsageError(`--pin-mode must be an octal file mode like 0600, not '${flags.pinMode}'`);
      pinMode = parseInt(flags.pinMode, 8);
    }
    const pinDir = path.resolve(flags.pin);
    requireSharedBpffs(pinDir);
    const progPin = path.join(pinDir, prog.name);
    if (fs.existsSync(progPin)) throw new UsageError(`'${progPin}' is already pinned; detach first (bpfpipe detach --iface ${flags.iface} --pin ${flags.pin})`);
    // The manifest comes first: if this process is killed half-way, `detach` still knows every pin.
    const key = { iface: flags.iface, direction: dir, netns: netnsInode(), program: prog.name };
    const manifest = {
      ...key,
      object: path.resolve(file),
      mode: mode === 'clsact' ? ('clsact' as const) : ('tcx' as const),
      pins: [...intendedPins(spec.maps, pinDir), progPin],
      dirs: missingDirs(pinDir),
      created: new Date().toISOString(),
    };
    writeManifest(manifest);
    let ok = false;
    const obj = await loadObject(file, { pinDir, keepPins: true, programs: [prog.name], pinMode }).catch((err) => {
      removeManifest(key);
      throw err;
    });
    try {
      obj.program(prog.name).pin(progPin, { mode: pinMode });
      const attachment = await attachTc(obj.program(prog.name), { iface: flags.iface, direction: dir, mode, persist: true });
      writeManifest({ ...manifest, mode: attachment.mode });
      attachment.close(); // persistent: this only releases our handles
      process.stdout.write(`attached ${prog.name} to ${flags.iface} ${dir} (${attachment.mode}${attachment.pinPath ? `, link pinned at ${attachment.pinPath}` : ''})\n`);
      for (const [name, p] of obj.pinPaths) process.stdout.write(`map ${name}: ${p}${obj.createdPins.includes(p) ? '' : ' (reused)'}\n`);
      process.stdout.write(`program ${prog.name}: ${progPin}\n`);
      ok = true;
    } finally {
      obj.close();
      if (!ok) {
        // keepPins kept the maps: remove what this failed attach pinned, and its manifest.
        for (const p of manifest.pins) if (p === progPin || obj.createdPins.includes(p)) fs.rmSync(p, { force: true });
        for (const d of manifest.dirs) {
          try {
            fs.rmdirSync(d);
          } catch {
            /* not empty: someone else's pins */
          }
        }
        removeManifest(key);
      }
    }
  });
}
