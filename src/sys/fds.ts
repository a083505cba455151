/** Open file descriptors of this process, for leak checks. */
import * as fs from 'node:fs';

export function listOpenFds(): { fd: number; target: string }[] {
  const out: { fd: number; target: string }[] = [];
  for (const name of fs.readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // the fd readdir itself used
    }
    out.push({ fd, target });
  }
  return out;
}

export function openFdCount(): number {
  return listOpenFds().length;
}

/** What an fd refers to, e.g. "anon_inode:bpf-map", "anon_inode:bpf-prog", "anon_inode:bpf_link". */
export function fdTarget(fd: number): string {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return '';
  }
}
