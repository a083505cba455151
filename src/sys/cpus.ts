/** CPU sets from sysfs, and the page size. */
import * as fs from 'node:fs';
import * as libc from './libc.js';
import { BadInputError } from '../errors.js';

/** Parse a kernel CPU list such as "0-3,8,10-11". */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  const trimmed = text.trim();
  if (trimmed === '') return out;
  for (const part of trimmed.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new BadInputError(`bad CPU list '${text.trim()}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 65536) throw new BadInputError(`bad CPU range '${part}'`);
    for (let c = a; c <= b; c++) out.push(c);
  }
  return out;
}

let possible: number[] | undefined;

/** Possible CPUs (what a per-CPU map is sized by). Cached: it cannot change at run time. */
export function possibleCpus(): number[] {
  possible ??= parseCpuList(fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return possible;
}

/** Online CPUs now (rings can only be opened on these). */
export function onlineCpus(): number[] {
  return parseCpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}

let page: number | undefined;

export function pageSize(): number {
  page ??= libc.sysconf(30 /* _SC_PAGESIZE */);
  return page;
}
