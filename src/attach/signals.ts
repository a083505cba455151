/**
 * cleanupOnSignals: close something (an attachment, a session) when SIGINT or SIGTERM arrives, then
 * let the signal do what it would have done. The handlers are removed once the signal has been
 * handled, or when the returned guard is released (call release() after a normal close).
 */
export interface Closeable {
  close(): void | Promise<void>;
}

export interface SignalGuard {
  /** Remove the handlers (idempotent). */
  release(): void;
  [Symbol.dispose](): void;
}

export interface SignalOptions {
  /** Default ['SIGINT', 'SIGTERM']. */
  signals?: NodeJS.Signals[];
  /** Told about a failure of close() (default: written to stderr). */
  onError?: (err: unknown) => void;
}

/**
 * Install handlers that close `closeable` on SIGINT/SIGTERM. After closing, the signal is raised
 * again with the default disposition, so the process ends as the signal says (exit status 128+n for
 * a shell) — unless other listeners for that signal exist: they got it too and decide what happens.
 * A second signal while closing is not intercepted any more (the default action ends the process).
 */
export function cleanupOnSignals(closeable: Closeable, options: SignalOptions = {}): SignalGuard {
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  let installed = true;
  const release = () => {
    if (!installed) return;
    installed = false;
    for (const s of signals) process.off(s, handler);
  };
  const handler = (signal: NodeJS.Signals) => {
    release();
    // Other listeners got this signal too: they decide what happens next.
    const othersListen = process.listenerCount(signal) > 0;
    const reraise = () => {
      if (!othersListen) process.kill(process.pid, signal);
    };
    let result: void | Promise<void>;
    try {
      result = closeable.close();
    } catch (err) {
      report(err);
      reraise();
      return;
    }
    Promise.resolve(result).then(reraise, (err: unknown) => {
      report(err);
      reraise();
    });
  };
  const report = (err: unknown) => {
    if (options.onError) options.onError(err);
    else process.stderr.write(`bpfpipe: cleanup after signal failed: ${err instanceof Error ? err.message : String(err)}\n`);
  };
  for (const s of signals) process.on(s, handler);
  return { release, [Symbol.dispose]: release };
}
