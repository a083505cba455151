/**
 * A CLI session owns what a command created (object, attachment, reader, outputs, netns) and releases
 * it exactly once, in reverse order, on every path: normal end, error, SIGINT, SIGTERM.
 */
export type Closer = () => void | Promise<void>;

export class Session {
  private readonly closers: { what: string; close: Closer }[] = [];
  private closing: Promise<void> | undefined;
  private readonly stopListeners: (() => void)[] = [];
  private signalled: NodeJS.Signals | undefined;
  private readonly onSignal = (sig: NodeJS.Signals) => {
    if (this.signalled) {
      // A second signal: give up waiting, but still release what we hold.
      void this.close().finally(() => process.exit(130));
      return;
    }
    this.signalled = sig;
    for (const l of this.stopListeners) l();
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** The signal that asked us to stop, if any. */
  get signal(): NodeJS.Signals | undefined {
    return this.signalled;
  }

  /** Called when SIGINT/SIGTERM arrives: stop reading (the command then drains and returns). */
  onStop(listener: () => void): void {
    this.stopListeners.push(listener);
    if (this.signalled) listener();
  }

  /** Register something to release; released in reverse order. Returns the value for chaining. */
  own<T>(what: string, value: T, close: (v: T) => void | Promise<void>): T {
    this.closers.push({ what, close: () => close(value) });
    return value;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const errors: unknown[] = [];
      for (const c of this.closers.reverse()) {
        try {
          await c.close();
        } catch (err) {
          errors.push(err);
        }
      }
      this.closers.length = 0;
      process.off('SIGINT', this.onSignal);
      process.off('SIGTERM', this.onSignal);
      if (errors.length) throw errors[0];
    })();
    return this.closing;
  }
}
