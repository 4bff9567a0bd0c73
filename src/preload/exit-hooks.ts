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
  process.on('uncaughtExceptionMonitor', (error) => hooks.recordCrash(error, process.listenerCount('uncaughtException') === 0));
  // The event loop drained (a script's end, a graceful shutdown): the last metrics are collected, and
  // 'exit' sends them. `process.exit()` skips this, and with it the last interval.
  process.on('beforeExit', () => hooks.collectAtEnd());
  process.on('exit', () => hooks.flushSync(left()));
}

interface Unseen {
  /** Whether nothing but ours listens to `signal`: the app leaves it to Node's default. */
  unhandled(signal: NodeJS.Signals): boolean;
  /** Takes ours off, for the signal about to be raised to meet Node's default. */
  stepAside(signal: NodeJS.Signals): void;
  /** Puts ours on or takes it off, as the other listeners now call for. */
  settle(signal: NodeJS.Signals): void;
}

/**
 * Listens to `signals` only while nothing else does, and out of sight: the app and its libraries see
 * exactly the listeners they would see without us. Another listener means the app or a library
 * handles the signal and decides when to end ('exit' flushes then); signal-exit, for one, ends the
 * process only when its own listeners are the last ones and would wait for ours for ever, and
 * libraries that install a handler only where none exists (tsx's, which then exits 128+n) would skip
 * theirs. Ours comes and goes after the task that added or removed the others: never in the middle of
 * code that takes listeners off and puts them back (vm's breakOnSigint does), where Node's own
 * bookkeeping of the signal would go wrong.
 */
function listenUnseen(signals: readonly NodeJS.Signals[], listener: (signal: NodeJS.Signals) => void): Unseen {
  const { listeners, rawListeners, listenerCount, eventNames } = process;
  // biome-ignore lint/complexity/noBannedTypes: the type of an EventEmitter's listeners.
  const all = (name: string | symbol): Function[] => Reflect.apply(listeners, process, [name]);
  const ours = (name: string | symbol) => (signals as readonly (string | symbol)[]).includes(name) && all(name).includes(listener);
  const withoutOurs = <T extends typeof listeners | typeof rawListeners>(original: T) =>
    function (this: NodeJS.Process, name: string | symbol) {
      const found: unknown[] = Reflect.apply(original, this, [name]);
      return ours(name) ? found.filter((candidate) => candidate !== listener) : found;
    } as T;
  process.listeners = withoutOurs(listeners);
  process.rawListeners = withoutOurs(rawListeners);
  process.listenerCount = function (this: NodeJS.Process, ...args: Parameters<typeof listenerCount>) {
    const count = Reflect.apply(listenerCount, this, args);
    const [name, only] = args;
    if (!ours(name) || (only != null && only !== listener)) return count;
    return only === listener ? 0 : count - 1;
  } as typeof process.listenerCount;
  process.eventNames = function (this: NodeJS.Process) {
    return Reflect.apply(eventNames, this, []).filter((name) => !ours(name) || all(name).length > 1);
  } as typeof process.eventNames;

  let leaving = false;
  const stepAside = (signal: NodeJS.Signals) => {
    leaving = true;
    try {
      process.removeListener(signal, listener);
    } finally {
      leaving = false;
    }
  };
  const others = (signal: NodeJS.Signals) => all(signal).filter((candidate) => candidate !== listener).length;
  const settle = (signal: NodeJS.Signals) => {
    const attached = all(signal).includes(listener);
    if (others(signal) === 0 && !attached) process.on(signal, listener);
    else if (others(signal) > 0 && attached) stepAside(signal);
  };
  const watched = (event: string | symbol): event is NodeJS.Signals => (signals as readonly (string | symbol)[]).includes(event);
  process.on('newListener', (event, added) => {
    if (watched(event) && added !== listener) queueMicrotask(() => settle(event));
  });
  process.on('removeListener', (event, removed) => {
    if (!watched(event) || (removed === listener && leaving)) return;
    // Node stops watching a signal when process.listenerCount says 0, which it says while ours is
    // alone: ours goes now, and comes back with a watch of its own.
    if (removed !== listener && all(event).includes(listener)) stepAside(event);
    queueMicrotask(() => settle(event));
  });
  for (const signal of signals) settle(signal);
  return { unhandled: (signal) => others(signal) === 0, stepAside, settle };
}

/**
 * Replaces process.kill so that `around` runs whenever the process sends SIGTERM or SIGINT to itself
 * (by its pid, or to its process group: 0, or minus its pid when it leads the group), with `send`
 * doing the sending. Returns the original, for signals of our own.
 */
function beforeSignallingItself(around: (signal: NodeJS.Signals, send: () => true) => true): typeof process.kill {
  const original = process.kill;
  const names: Record<number, NodeJS.Signals> = { [constants.signals.SIGTERM]: 'SIGTERM', [constants.signals.SIGINT]: 'SIGINT' };
  process.kill = function kill(pid: number, signal?: string | number): true {
    const send = () => original.call(process, pid, signal);
    const name = typeof signal === 'number' ? names[signal] : (signal ?? 'SIGTERM');
    const itself = [process.pid, 0, -process.pid].includes(Number(pid));
    return itself && (name === 'SIGTERM' || name === 'SIGINT') ? around(name, send) : send();
  };
  return original.bind(process);
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
