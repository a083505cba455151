/** Network interface names and indexes in the calling thread's network namespace. */
import * as libc from './libc.js';
import { InterfaceError } from '../errors.js';

export function ifaceIndex(name: string): number {
  if (name.length === 0 || name.length >= 16 || name.includes('/') || /\s/.test(name)) {
    throw new InterfaceError(name, `'${name}' is not a valid interface name`);
  }
  const index = libc.if_nametoindex(name);
  if (index === 0) throw new InterfaceError(name);
  return index;
}

export function ifaceName(index: number): string | undefined {
  const buf = new Uint8Array(16);
  const name = libc.if_indextoname(index, buf);
  return name ?? undefined;
}
