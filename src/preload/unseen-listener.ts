// A signal listener the app cannot see: the preload needs to hear SIGTERM/SIGINT that the app leaves
// to Node's default, and must change nothing for an app or library that counts, lists or replaces the
// listeners of a signal (signal-exit, tsx, vm's breakOnSigint all do).

export interface Unseen {
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
export function listenUnseen(signals: readonly NodeJS.Signals[], listener: (signal: NodeJS.Signals) => void): Unseen {
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
