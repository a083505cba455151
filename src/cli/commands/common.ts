/** Pieces shared by the commands that load an object and attach it. */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { ObjectSpec, BadInputError, UsageError, PinError, ensureBpffs, privateBpffs, type Direction } from '../../index.js';

/**
 * openEvents() options of every CLI reader: no priming of the reader's code (formatting costs the CLI
 * some 900 ns an event, so the prime's 0.3 s at start would buy nothing).
 */
export const CLI_READER = { prime: false } as const;

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

/** Pins meant to outlive this process (attach, run --pin) need the host's bpffs, not a private one. */
export function requireSharedBpffs(pinDir: string): void {
  ensureBpffs();
  const why = privateBpffs();
  if (why) throw new PinError(pinDir, `cannot keep pins under '${pinDir}': ${why}; enter only the network namespace instead (nsenter --net=/run/netns/NAME bpfpipe ...)`);
}

/** A hint for "nothing is pinned there" when this process sees a private bpffs. */
export function privateBpffsHint(): string {
  const why = privateBpffs();
  return why ? ` (${why}; use nsenter --net=/run/netns/NAME instead of ip netns exec)` : '';
}
