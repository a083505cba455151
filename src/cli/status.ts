/** The status line on a terminal: rate, totals and lost, updated in place on stderr. */
export class StatusLine {
  private timer: NodeJS.Timeout | undefined;
  private last = { t: 0, n: 0 };

  constructor(private readonly label = '') {}

  static enabled(): boolean {
    return process.stderr.isTTY === true && process.stdout.isTTY !== true;
  }

  start(read: () => { received: number; lost: number }): void {
    this.last = { t: Date.now(), n: 0 };
    this.timer = setInterval(() => {
      const { received, lost } = read();
      const now = Date.now();
      const rate = ((received - this.last.n) * 1000) / Math.max(1, now - this.last.t);
      this.last = { t: now, n: received };
      process.stderr.write(`\r\x1b[2K${this.label}${formatRate(rate)} events/s  received ${received.toLocaleString('en-US')}  lost ${lost.toLocaleString('en-US')}`);
    }, 250);
    this.timer.unref();
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    process.stderr.write('\r\x1b[2K');
  }
}

export function formatRate(r: number): string {
  if (r >= 1e6) return `${(r / 1e6).toFixed(2)}M`;
  if (r >= 1e3) return `${(r / 1e3).toFixed(1)}k`;
  return r.toFixed(0);
}
