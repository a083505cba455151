/** Pieces shared by the commands that load an object and attach it. */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { ObjectSpec, BadInputError, UsageError, type Direction } from '../../index.js';

export function readSpec(file: string): ObjectSpec {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new BadInputError(`cannot read object file '${file}': ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  return ObjectSpec.parse(bytes);
}

export function addDirectionOptions(c: Command): Command {
  return c.option('--ingress', 'attach to ingress (default)').option('--egress', 'attach to egress');
}

export function direction(flags: { ingress?: boolean; egress?: boolean }): Direction {
  if (flags.ingress && flags.egress) throw new UsageError('give either --ingress or --egress, not both');
  return flags.egress ? 'egress' : 'ingress';
}

export function attachMode(v: string): 'auto' | 'tcx' | 'clsact' {
  if (v !== 'auto' && v !== 'tcx' && v !== 'clsact') throw new UsageError(`--attach must be auto, tcx or clsact, not '${v}'`);
  return v;
}
