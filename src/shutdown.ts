// Exports what is left when the process ends, without changing how it ends. Every way out passes
// through here: the event loop draining and `process.exit()` emit 'exit' (where only synchronous work
// runs, hence the synchronous flush); a crash is seen by the exception monitor first; and a signal
// the app does not handle is re-raised after the flush, so the process still dies by it.
export interface ExitHooks {
  /** Collects and exports the metrics measured since the last export; needs the event loop. */
  flush(): Promise<void>;
  /** Exports everything ended so far, waiting at most the shutdown timeout. */
  flushSync(): void;
  /** Records a crash on the spans it interrupts; `fatal` when the process is about to die of it. */
  recordCrash(error: unknown, fatal: boolean): void;
}

export function installShutdown(hooks: ExitHooks): void {
  const onSignal = (signal: NodeJS.Signals) => {
    // Other listeners mean the app handles the signal: it decides when to end, and 'exit' flushes then.
    if (process.listenerCount(signal) > 1) return;
    void settled(hooks.flush()).then(() => {
      hooks.flushSync();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtExceptionMonitor', (error) => hooks.recordCrash(error, process.listenerCount('uncaughtException') === 0));
  // The event loop drained (a script's end, a graceful shutdown): one last metrics export, which
  // needs the loop; 'exit' comes after it. `process.exit()` skips this, and with it the last interval.
  let flushedMetrics = false;
  process.on('beforeExit', () => {
    if (flushedMetrics) return;
    flushedMetrics = true;
    void settled(hooks.flush());
  });
  process.on('exit', () => hooks.flushSync());
}

/** Never rejects: a failed flush must not turn into the app's unhandled rejection. */
function settled(promise: Promise<void>): Promise<void> {
  return promise.catch(() => {});
}
