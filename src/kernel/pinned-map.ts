/** Opening a map pinned in bpffs (by bpfpipe, tc/iproute2, bpftool or any libbpf program). */
import * as path from 'node:path';
import { kernel } from '../sys/index.js';
import { BadInputError } from '../errors.js';
import * as attr from './attr.js';
import { BpfMap } from './map.js';
import { openPinned } from './pin.js';

/** Open a pinned map (e.g. /sys/fs/bpf/tc/globals/events). */
export async function openPinnedMap(pinPath: string, options: { readonly?: boolean } = {}): Promise<BpfMap> {
  return openPinnedMapSync(pinPath, options);
}

export function openPinnedMapSync(pinPath: string, options: { readonly?: boolean } = {}): BpfMap {
  const { fd, kind } = openPinned(pinPath, options.readonly ? attr.OBJ_GET_RDONLY : 0);
  if (kind !== 'map') {
    kernel().close(fd);
    throw new BadInputError(`'${pinPath}' is a pinned ${kind}, not a map`);
  }
  const map = new BpfMap(fd, path.basename(pinPath));
  map.origin = { pinPath };
  return map;
}
