// The events of HTTP messages, as our instrumentations need them: in which context their listeners
// run, and what an instrumentation sees of them before the listeners do. A server's request and
// response run their listeners in the request's context, and a client request and its response in
// the caller's, as upstream's `context.bind` of each message makes them (a message's events come
// from its socket, in whatever context that had). The messages' prototypes emit so, once for all
// instrumentations; each traced message carries its watch in one property, set on every one of them
// alike. An `emit` or listeners of each message's own cost every message more, and so does a
// WeakMap entry for each (its garbage collection: ~20 µs a call for a client's two).
import { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '@opentelemetry/api';
import { instrumentationFailed } from '../log.js';

type Api = typeof import('@opentelemetry/api');
type Emit = ((this: unknown, event: string | symbol, ...args: unknown[]) => boolean) & { [WRAPPED]?: true };

export interface Watch {
  /** Where the message's listeners run. */
  readonly context: Context;
  /** Sees an event before the listeners, as an `errorMonitor` listener sees 'error'; what it throws goes no further. */
  seen?(event: string | symbol, first: unknown): void;
}

type Watched = { [WATCH]?: Watch };

const WRAPPED = Symbol('@rustok/otel.message-events');
const WATCH = Symbol('@rustok/otel.watch');

/** Has the messages' prototypes emit as their watches say, and returns how a message gets its watch. */
export function messageEvents({ context }: Api): (message: object, watch: Watch) => void {
  for (const prototype of [IncomingMessage.prototype, ServerResponse.prototype, ClientRequest.prototype] as unknown as { emit: Emit }[]) {
    if (prototype.emit[WRAPPED]) continue;
    const emit = prototype.emit;
    const emitWatched: Emit = function (this: unknown, ...args) {
      const watch = (this as Watched)[WATCH];
      if (watch === undefined) return emit.apply(this, args);
      if (watch.seen !== undefined) {
        try {
          watch.seen(args[0], args[1]);
        } catch (error) {
          instrumentationFailed('http', error);
        }
      }
      return context.with(watch.context, emit, this, ...args);
    };
    emitWatched[WRAPPED] = true;
    prototype.emit = emitWatched;
  }
  return watch;
}

/** Not enumerable: the app may log or copy its messages, and sees nothing of ours there. */
function watch(message: object, watched: Watch): void {
  Object.defineProperty(message, WATCH, { value: watched, writable: true, configurable: true });
}
