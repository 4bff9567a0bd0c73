// Exports what is left when the process ends, without changing how it ends. Every way out passes
// through here: the event loop draining and `process.exit()` emit 'exit' (where only synchronous work
// runs, hence the synchronous flush); a crash is seen by the exception monitor first; and a signal
// the app does not handle is re-raised after the flush, so the process still dies by it.
export interface ExitHooks {
  /** Exports everything ended so far, waiting at most the shutdown timeout. */
  flushSync(): void;
  /** Records a crash on the spans it interrupts; `fatal` when the process is about to die of it. */
  recordCrash(error: unknown, fatal: boolean): void;
}

export function installShutdown(hooks: ExitHooks): void {
  const onSignal = (signal: NodeJS.Signals) => {
    // Other listeners mean the app handles the signal: it decides when to end, and 'exit' flushes then.
    if (process.listenerCount(signal) > 1) return;
    hooks.flushSync();
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtExceptionMonitor', (error) => hooks.recordCrash(error, process.listenerCount('uncaughtException') === 0));
  process.on('exit', () => hooks.flushSync());
}
