/** Buffered writes to stdout or a file, with back-pressure: one write per batch, wait for 'drain'. */
import * as fs from 'node:fs';
import type { Writable } from 'node:stream';

export class ByteSink {
  private parts: (string | Uint8Array)[] = [];
  private pending = 0;
  private readonly stream: Writable;
  private readonly owned: boolean;
  private broken = false;

  constructor(path?: string) {
    if (path && path !== '-') {
      this.stream = fs.createWriteStream(path);
      this.owned = true;
    } else {
      this.stream = process.stdout;
      this.owned = false;
    }
    // A closed pipe (e.g. `| head`) ends the output quietly.
    this.stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.broken = true;
      else throw err;
    });
  }

  get closed(): boolean {
    return this.broken;
  }

  push(part: string | Uint8Array): void {
    this.parts.push(part);
    this.pending += typeof part === 'string' ? part.length : part.byteLength;
    if (this.pending > 1 << 20) void this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0 || this.broken) {
      this.parts = [];
      this.pending = 0;
      return;
    }
    const parts = this.parts;
    this.parts = [];
    this.pending = 0;
    const chunk = parts.every((p) => typeof p === 'string') ? (parts as string[]).join('') : Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    if (!this.stream.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off('drain', done);
          this.stream.off('close', done);
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('close', done);
      });
    }
  }

  /** Write `chunk` now (after anything queued) and resolve once it is written: the caller may then reuse it. */
  async writeNow(chunk: Uint8Array): Promise<void> {
    await this.flush();
    if (this.broken || chunk.byteLength === 0) return;
    await new Promise<void>((resolve) => {
      this.stream.write(chunk, () => resolve());
    });
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.owned) await new Promise<void>((resolve) => this.stream.end(resolve));
  }
}
