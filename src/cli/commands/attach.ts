/** bpfpipe attach <obj.o> --iface DEV --pin DIR: attach and stay attached, maps pinned for listeners. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { loadObject, attachTc, UsageError } from '../../index.js';
import { pickProgram } from '../pick.js';
import { readSpec, addDirectionOptions, direction, attachMode } from './common.js';
import { writeManifest, netnsInode } from '../manifest.js';

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
    const dir = direction(flags);
    const mode = attachMode(flags.attach);
    let pinMode: number | undefined;
    if (flags.pinMode !== undefined) {
      if (!/^0?[0-7]{3}$/.test(flags.pinMode)) throw new UsageError(`--pin-mode must be an octal file mode like 0600, not '${flags.pinMode}'`);
      pinMode = parseInt(flags.pinMode, 8);
    }
    const pinDir = path.resolve(flags.pin);
    const obj = await loadObject(file, { pinDir, keepPins: true, programs: [prog.name], pinMode });
    let ok = false;
    try {
      const progPin = path.join(pinDir, prog.name);
      const createdDirs: string[] = [];
      if (fs.existsSync(progPin)) throw new UsageError(`'${progPin}' is already pinned; detach first (bpfpipe detach --iface ${flags.iface} --pin ${flags.pin})`);
      obj.program(prog.name).pin(progPin, { mode: pinMode, createdDirs });
      const attachment = await attachTc(obj.program(prog.name), { iface: flags.iface, direction: dir, mode, persist: true });
      writeManifest({
        iface: flags.iface,
        direction: dir,
        netns: netnsInode(),
        program: prog.name,
        object: path.resolve(file),
        mode: attachment.mode,
        pins: [...obj.createdPins, progPin],
        dirs: [...obj.createdDirs, ...createdDirs],
        created: new Date().toISOString(),
      });
      attachment.close(); // persistent: this only releases our handles
      process.stdout.write(`attached ${prog.name} to ${flags.iface} ${dir} (${attachment.mode}${attachment.pinPath ? `, link pinned at ${attachment.pinPath}` : ''})\n`);
      for (const [name, p] of obj.pinPaths) process.stdout.write(`map ${name}: ${p}${obj.createdPins.includes(p) ? '' : ' (reused)'}\n`);
      process.stdout.write(`program ${prog.name}: ${progPin}\n`);
      ok = true;
    } finally {
      if (!ok) obj.close(); // with keepPins the maps stay; remove what this failed attach pinned
      if (!ok) for (const p of obj.createdPins) fs.rmSync(p, { force: true });
      if (ok) obj.close();
    }
  });
}
