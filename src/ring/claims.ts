/**
 * Advisory slot claims: a reader that puts its perf ring into slot N of a map claims byte N of the
 * file /run/bpfpipe/claims/map-<id> with a POSIX lock. A second reader (another process, or another
 * reader in this process) that wants the same slot gets a clear error naming the holder's pid instead
 * of silently stealing the slot. Locks die with their process, so a crash never leaves a stale claim.
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
    let file = files.get(mapId);
    if (!file) {
      let fd: number;
      try {
        fs.mkdirSync(CLAIMS_DIR, { recursive: true, mode: 0o755 });
        fd = fs.openSync(`${CLAIMS_DIR}/map-${mapId}`, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
      } catch {
        // No writable /run: claims are advisory, so read without them.
        return;
      }
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
      fs.closeSync(file.fd);
      files.delete(this.mapId);
    }
  }
}
