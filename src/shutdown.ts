// Flushes spans when the process is about to end without changing how it ends: a signal we were the
// only listener for is re-raised after the flush, and otherwise the app's own handler decides.
export interface Flusher {
  /** Whether spans ended since the last flush began. */
  pending(): boolean;
  flush(): Promise<void>;
}

export function installShutdown(flusher: Flusher, timeoutMillis: number): void {
  const bounded = () => withTimeout(flusher.flush(), timeoutMillis);
  const handling = new Set<NodeJS.Signals>();

  const onSignal = (signal: NodeJS.Signals) => {
    // Other listeners mean the app handles this signal: flush alongside it and never exit for it.
    const ours = process.listenerCount(signal) === 1;
    if (ours && handling.has(signal)) return reraise(signal);
    handling.add(signal);
    void bounded().then(() => {
      if (ours) reraise(signal);
    });
  };
  const reraise = (signal: NodeJS.Signals) => {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  };

  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // The loop drained (a script or job finished): the pending export keeps it alive until done,
  // then 'beforeExit' comes again with nothing pending and the process ends as it would have.
  process.on('beforeExit', () => {
    if (flusher.pending()) void bounded();
  });
}

function withTimeout(work: Promise<void>, timeoutMillis: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMillis);
  });
  return Promise.race([work.catch(() => {}), deadline]).finally(() => clearTimeout(timer));
}
