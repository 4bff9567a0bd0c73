// Exports what is left when the process ends, without changing how it ends. Every way out passes
// through here: the event loop draining and `process.exit()` emit 'exit' (where only synchronous work
// runs, hence the synchronous flush); a crash is seen by the exception monitor first; and a signal
// the app does not handle is re-raised after the flush, so the process still dies by it.
import { constants } from 'node:os';

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
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    // A second signal while the first one's flush runs: whoever sends it wants the process gone now.
    if (signalled) return reraise();
    signalled = true;
    void flush().then(() => {
      hooks.flushSync(left());
      reraise();
    });
  };
  const alone = listenUnseen(['SIGTERM', 'SIGINT'], onSignal);
  // A process that signals itself once its own listeners are gone (terminus, node-cleanup, an app's
  // `process.once` that re-raises after its cleanup) would die at once without us. With our listener
  // there instead, the signal would wait for an event loop that may have nothing left to run, and the
  // process would end with 0: flush now, step aside, and let the signal do what it would have done.
  beforeSignallingItself((signal) => {
    if (!alone(signal)) return;
    hooks.flushSync(left());
    process.removeListener(signal, onSignal);
  });
  process.on('uncaughtExceptionMonitor', (error) => hooks.recordCrash(error, process.listenerCount('uncaughtException') === 0));
  // The event loop drained (a script's end, a graceful shutdown): the last metrics are collected, and
  // 'exit' sends them. `process.exit()` skips this, and with it the last interval.
  process.on('beforeExit', () => hooks.collectAtEnd());
  process.on('exit', () => hooks.flushSync(left()));
}

/**
 * Listens to `signals` only while nothing else does, and out of sight: the app and its libraries see
 * exactly the listeners they would see without us. Another listener means the app or a library
 * handles the signal and decides when to end ('exit' flushes then); signal-exit, for one, ends the
 * process only when its own listeners are the last ones and would wait for ours for ever, and
 * libraries that install a handler only where none exists (tsx's, which then exits 128+n) would skip
 * theirs. When the others remove theirs (to re-raise the signal, as signal-exit and terminus do),
 * ours is back before the signal arrives. Returns whether ours is, right now, the only one.
 */
function listenUnseen(signals: readonly NodeJS.Signals[], listener: (signal: NodeJS.Signals) => void): (signal: NodeJS.Signals) => boolean {
  const { listeners, rawListeners, listenerCount, eventNames } = process;
  // biome-ignore lint/complexity/noBannedTypes: the type of an EventEmitter's listeners.
  const all = (name: string | symbol): Function[] => Reflect.apply(listeners, process, [name]);
  const ours = (name: string | symbol) => (signals as readonly (string | symbol)[]).includes(name) && all(name).includes(listener);
  process.listeners = function (this: NodeJS.Process, name: string | symbol) {
    const found: unknown[] = Reflect.apply(listeners, this, [name]);
    return ours(name) ? found.filter((candidate) => candidate !== listener) : found;
  } as typeof process.listeners;
  process.rawListeners = function (this: NodeJS.Process, name: string | symbol) {
    const found: unknown[] = Reflect.apply(rawListeners, this, [name]);
    return ours(name) ? found.filter((candidate) => candidate !== listener) : found;
  } as typeof process.rawListeners;
  process.listenerCount = function (this: NodeJS.Process, ...args: Parameters<typeof listenerCount>) {
    const count = Reflect.apply(listenerCount, this, args);
    const [name, only] = args;
    if (!ours(name) || (only != null && only !== listener)) return count;
    return only === listener ? 0 : count - 1;
  } as typeof process.listenerCount;
  process.eventNames = function (this: NodeJS.Process) {
    return Reflect.apply(eventNames, this, []).filter((name) => !ours(name) || all(name).length > 1);
  } as typeof process.eventNames;

  const settle = (signal: NodeJS.Signals) => {
    const attached = all(signal).includes(listener);
    const others = all(signal).length - (attached ? 1 : 0);
    if (others === 0 && !attached) process.on(signal, listener);
    else if (others > 0 && attached) process.removeListener(signal, listener);
  };
  const watched = (event: string | symbol): event is NodeJS.Signals => (signals as readonly (string | symbol)[]).includes(event);
  // 'newListener' comes before the listener is added: leaving at once would leave no listener for a
  // moment, and Node would stop watching the signal for good. Signals are delivered between tasks,
  // so leaving after this task's synchronous code is just as soon.
  process.on('newListener', (event, added) => {
    if (watched(event) && added !== listener) queueMicrotask(() => settle(event));
  });
  process.on('removeListener', (event, removed) => {
    if (!watched(event) || removed === listener) return;
    // Node stops watching a signal when process.listenerCount says 0, which it says while ours is
    // alone: adding ours again starts the watch again.
    if (all(event).includes(listener)) process.removeListener(event, listener);
    settle(event);
  });
  for (const signal of signals) settle(signal);
  return (signal) => {
    const found = all(signal);
    return found.length === 1 && found[0] === listener;
  };
}

/**
 * Calls `before` with the signal's name whenever the process is about to send SIGTERM or SIGINT to
 * itself: by its pid, or to its process group (0, or minus its pid when it leads the group).
 */
function beforeSignallingItself(before: (signal: NodeJS.Signals) => void): void {
  const send = process.kill;
  const names: Record<number, NodeJS.Signals> = { [constants.signals.SIGTERM]: 'SIGTERM', [constants.signals.SIGINT]: 'SIGINT' };
  process.kill = function kill(pid: number, signal?: string | number): true {
    const name = typeof signal === 'number' ? names[signal] : (signal ?? 'SIGTERM');
    const itself = [process.pid, 0, -process.pid].includes(Number(pid));
    if (itself && (name === 'SIGTERM' || name === 'SIGINT')) before(name);
    return send.call(process, pid, signal);
  };
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
