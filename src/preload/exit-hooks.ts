// Exports what is left when the process ends, without changing how it ends. Every way out passes
// through here: the event loop draining and `process.exit()` emit 'exit' (where only synchronous work
// runs, hence the synchronous flush); a crash is seen by the exception monitor first; and a signal
// the app does not handle is re-raised after the flush, so the process still dies by it.
import { beforeSignallingItself } from './self-signal.js';
import { listenUnseen } from './unseen-listener.js';

export interface ExitHooks {
  /** Exports what there is while the event loop runs (spans, then metrics); resolves when done. */
  flush(timeoutMillis: number): Promise<void>;
  /** Exports every span ended so far, and whatever else the export thread holds, waiting at most `timeoutMillis`. */
  flushSync(timeoutMillis: number): void;
  /**
   * When the event loop has drained: the last collection of what needs one (metrics), holding
   * nothing that would bring 'beforeExit' round again, and the app's listeners with it. flushSync sends it.
   */
  collectAtEnd(): void;
  /** Records a crash on the spans it interrupts; `fatal` when the process is about to die of it. */
  recordCrash(error: unknown, fatal: boolean): void;
}

/** `timeoutMillis` bounds the whole way out, however many steps it takes. */
export function installShutdown(hooks: ExitHooks, timeoutMillis: number): void {
  let deadline: number | undefined;
  const left = () => {
    deadline ??= Date.now() + timeoutMillis;
    return Math.max(0, deadline - Date.now());
  };
  // A flush that finished in time leaves the budget whole for a later exit.
  const flush = () =>
    bounded(hooks.flush(left()), left()).then((finished) => {
      if (finished) deadline = undefined;
    });

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    // process.emit('SIGTERM') of the app's own, which without us reaches no listener at all.
    if (signal !== 'SIGTERM' && signal !== 'SIGINT') return;
    const reraise = () => {
      unseen.stepAside(signal);
      kill(process.pid, signal);
    };
    // A second signal while the first one's flush runs: whoever sends it wants the process gone now.
    if (signalled) return reraise();
    signalled = true;
    void flush().then(() => {
      hooks.flushSync(left());
      reraise();
    });
  };
  const unseen = listenUnseen(['SIGTERM', 'SIGINT'], onSignal);
  // A process that signals itself once its own listeners are gone (signal-exit, terminus,
  // node-cleanup, an app's `process.once` that re-raises after its cleanup) dies at once without us.
  // With our listener there, the signal would wait for an event loop that may have nothing left to
  // run, and the process would end with 0: flush now, step aside, and let the signal do what it would
  // have done. A signal that cannot be sent (a process group it does not lead) brings ours back.
  const kill = beforeSignallingItself((signal, send) => {
    if (!unseen.unhandled(signal)) return send();
    hooks.flushSync(left());
    unseen.stepAside(signal);
    try {
      return send();
    } catch (error) {
      unseen.settle(signal);
      throw error;
    }
  });
  process.on('uncaughtExceptionMonitor', (error) => {
    // Fatal unless someone takes it: an 'uncaughtException' listener, a capture callback, a domain.
    const fatal = process.listenerCount('uncaughtException') === 0 && !process.hasUncaughtExceptionCaptureCallback();
    try {
      hooks.recordCrash(error, fatal);
    } catch {
      // Whatever was thrown (a null-prototype object, a throwing getter) is the app's; its crash stays Node's.
    }
  });
  // The event loop drained (a script's end, a graceful shutdown): the last metrics are collected, and
  // 'exit' sends them. `process.exit()` skips this, and with it the last interval.
  process.on('beforeExit', () => hooks.collectAtEnd());
  listenLast('exit', () => hooks.flushSync(left()));
}

/**
 * Keeps `listener` the last of `event`'s listeners, moving it behind each one added after it: the
 * app's own 'exit' listeners may still log or trace, and what they do is exported too.
 */
function listenLast(event: 'exit', listener: () => void): void {
  process.on(event, listener);
  process.on('newListener', (name, added) => {
    if (name !== event || added === listener) return;
    queueMicrotask(() => {
      const all = process.listeners(event);
      if (all.at(-1) === listener) return;
      process.removeListener(event, listener);
      process.on(event, listener);
    });
  });
}

/** Whether `promise` resolved within `millis`; never rejects, so a failed flush is no unhandled rejection of the app's. */
function bounded(promise: Promise<void>, millis: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), millis);
  });
  const done = promise.then(
    () => true,
    () => false,
  );
  return Promise.race([done, timedOut]).finally(() => clearTimeout(timer));
}
