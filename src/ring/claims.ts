/**
 * Advisory slot claims: a reader that puts its perf ring into slot N of a map claims byte N of the
 * file /run/bpfpipe/claims/map-<id> with a POSIX lock. A second reader (another process, or another
 * reader in this process) that wants the same slot gets a clear error naming the holder's pid instead
 * of silently stealing the slot. Locks die with their process, so a crash never leaves a stale claim;
 * the file of a killed reader is swept by the next reader that opens a claim file.
 */
import * as fs from 'node:fs';
import { tryLockRange, unlockRange } from '../sys/index.js';
import { BusyError } from '../errors.js';

export const CLAIMS_DIR = '/run/bpfpipe/claims';

interface ClaimFile {
  fd: number;
  slots: Set<number>;
}

// One fd per map per process: closing any fd of a file drops all of the process's POSIX locks on it.
const files = new Map<number, ClaimFile>();

export class SlotClaims {
  private readonly held: number[] = [];
  private released = false;

  /** Claim `slots` of map `mapId`, all or nothing. */
  constructor(readonly mapId: number, slots: number[], readonly what = 'map') {
    for (let attempt = 0; attempt < 8; attempt++) {
      let file = files.get(mapId);
      if (!file) {
        const fd = openClaimFile(mapId);
        // No writable /run: claims are advisory, so read without them.
        if (fd === undefined) return;
        file = { fd, slots: new Set() };
        files.set(mapId, file);
      }
      try {
        for (const slot of slots) {
          if (file.slots.has(slot)) {
            throw new BusyError(`slot ${slot} of ${what} (map id ${mapId}) is already read by another reader in this process (pid ${process.pid}); close it first or read another channel`);
          }
          const r = tryLockRange(file.fd, slot, 1);
          if (!r.ok) {
            throw new BusyError(`slot ${slot} of ${what} (map id ${mapId}) is already read by process ${r.pid}; stop that reader or read another channel (--channel)`);
          }
          file.slots.add(slot);
          this.held.push(slot);
        }
      } catch (err) {
        this.release();
        throw err;
      }
      // The locks count only if they are on the file at the path now (it may have been removed by a
      // process releasing its last claim between our open and our locks): otherwise claim again.
      if (sameFile(file.fd, pathFor(mapId))) return;
      this.release();
      this.held.length = 0;
      this.released = false;
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const file = files.get(this.mapId);
    if (!file) return;
    for (const slot of this.held) {
      unlockRange(file.fd, slot, 1);
      file.slots.delete(slot);
    }
    if (file.slots.size === 0) {
      // The last claim of this process on this map: remove the file if nobody else holds a slot. The
      // whole-file lock makes that safe; a claimer that opened the old file re-opens (openClaimFile).
      if (sameFile(file.fd, pathFor(this.mapId)) && tryLockRange(file.fd, 0, 0).ok) {
        try {
          fs.unlinkSync(pathFor(this.mapId));
        } catch {
          /* already gone */
        }
      }
      fs.closeSync(file.fd);
      files.delete(this.mapId);
    }
  }
}

function sameFile(fd: number, p: string): boolean {
  try {
    return fs.fstatSync(fd).ino === fs.statSync(p).ino;
  } catch {
    return false;
  }
}

function pathFor(mapId: number): string {
  return `${CLAIMS_DIR}/map-${mapId}`;
}

/**
 * Remove the claim files nobody holds a lock on (left by killed readers), except this process's own
 * (our own locks never conflict with us, so we cannot test those). A claimer racing with the removal
 * finds its file gone after locking and claims again (see the constructor).
 */
function sweepStale(): void {
  let names: string[];
  try {
    names = fs.readdirSync(CLAIMS_DIR);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^map-(\d+)$/.exec(name);
    if (!m || files.has(Number(m[1]))) continue;
    const p = `${CLAIMS_DIR}/${name}`;
    let fd: number;
    try {
      fd = fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
    } catch {
      continue;
    }
    try {
      if (sameFile(fd, p) && tryLockRange(fd, 0, 0).ok) fs.unlinkSync(p);
    } catch {
      /* gone meanwhile */
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Open (creating) the claim file of a map, making sure the fd is the file at that path now. */
function openClaimFile(mapId: number): number | undefined {
  sweepStale();
  for (let attempt = 0; attempt < 8; attempt++) {
    let fd: number;
    try {
      fs.mkdirSync(CLAIMS_DIR, { recursive: true, mode: 0o755 });
      fd = fs.openSync(pathFor(mapId), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    } catch {
      return undefined;
    }
    if (sameFile(fd, pathFor(mapId))) return fd;
    fs.closeSync(fd);
  }
  return undefined;
}
