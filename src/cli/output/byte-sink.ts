/**
 * Buffered writes to stdout or a file, with back-pressure: one write per batch, wait for 'drain'.
 * A write error (disk full, closed file) is kept and fails the next write with one typed error; a
 * closed pipe (`| head`) ends the output quietly.
 */
import * as fs from 'node:fs';
import type { Writable } from 'node:stream';
import { BpfpipeError } from '../../index.js';

export class ByteSink {
  private parts: (string | Uint8Array)[] = [];
  private pending = 0;
  private readonly stream: Writable;
  private readonly owned: boolean;
  private broken = false;
  private failure: BpfpipeError | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly goneListeners: (() => void)[] = [];

  constructor(private readonly path?: string) {
    if (path && path !== '-') {
      this.stream = fs.createWriteStream(path);
      this.owned = true;
    } else {
      this.stream = process.stdout;
      this.owned = false;
    }
    this.stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.broken = true;
      else this.failure ??= new BpfpipeError('EBPF_SYSCALL', `cannot write the output${this.path ? ` to '${this.path}'` : ''}: ${err.message}`, { cause: err });
      this.settle();
      for (const l of this.goneListeners.splice(0)) l();
    });
    this.stream.on('close', () => this.settle());
  }

  /** The output went away (a closed pipe): stop reading. */
  get closed(): boolean {
    return this.broken;
  }

  /**
   * Call `listener` once when the output goes away or fails, even while nothing is being written
   * (a failed write is reported asynchronously; the reader may then wait for traffic that never comes).
   */
  onGone(listener: () => void): void {
    if (this.broken || this.failure) listener();
    else this.goneListeners.push(listener);
  }

  /** Throw the write error, if one happened. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  private settle(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  private wait(register: (done: () => void) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        resolve();
      };
      this.waiters.add(done);
      register(done);
    });
  }

  push(part: string | Uint8Array): void {
    this.parts.push(part);
    this.pending += typeof part === 'string' ? part.length : part.byteLength;
  }

  async flush(): Promise<void> {
    this.check();
    if (this.parts.length === 0 || this.broken) {
      this.parts = [];
      this.pending = 0;
      return;
    }
    const parts = this.parts;
    this.parts = [];
    this.pending = 0;
    const chunk = parts.every((p) => typeof p === 'string') ? (parts as string[]).join('') : Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    if (!this.stream.write(chunk)) await this.wait((done) => this.stream.once('drain', done));
    this.check();
  }

  /** Write `chunk` now (after anything queued) and resolve once it is written: the caller may then reuse it. */
  async writeNow(chunk: Uint8Array): Promise<void> {
    await this.flush();
    if (this.broken || chunk.byteLength === 0) return;
    await this.wait((done) => this.stream.write(chunk, () => done()));
    this.check();
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      if (this.owned && !this.stream.destroyed && !this.failure) await this.wait((done) => this.stream.end(done));
      else if (this.owned) this.stream.destroy();
    }
  }
}
