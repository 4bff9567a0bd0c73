// The events of HTTP messages, as our instrumentations need them: in which context their listeners
// run, and what an instrumentation sees of them before the listeners do. A server's request and
// response run their listeners in the request's context, and a client request and its response in
// the caller's, as upstream's `context.bind` of each message makes them (a message's events come
// from its socket, in whatever context that had). The messages' prototypes emit so, once for all
// instrumentations: an `emit` or listeners of each message's own would cost every message more.
// A server's messages are looked up in a WeakMap, since Express's code reads a request with a
// property of ours more slowly; a client's carry their watch (one property, on every one of them
// alike), since a WeakMap entry for every call costs its garbage collection more.
import { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '@opentelemetry/api';
import { instrumentationFailed } from '../log.js';

type Api = typeof import('@opentelemetry/api');
type Emit = ((this: unknown, event: string | symbol, ...args: unknown[]) => boolean) & { [WRAPPED]?: true };

/** What a client's message carries: the context its listeners run in, and what sees its events first. */
export interface Watch {
  readonly context: Context;
  /** Sees an event before the listeners, as an `errorMonitor` listener sees 'error'; what it throws goes no further. */
  seen(event: string | symbol, first: unknown): void;
}

export interface MessageEvents {
  /** A server's message: its listeners run in `context` from now on. */
  runIn(message: object, context: Context): void;
  /** A client's message. */
  watch(message: object, watch: Watch): void;
}

const WRAPPED = Symbol('@rustok/otel.message-events');
const WATCH = Symbol('@rustok/otel.watch');
const contexts = new WeakMap<object, Context>();
const events: MessageEvents = {
  runIn: (message, context) => contexts.set(message, context),
  watch: (message, watch) => {
    (message as { [WATCH]?: Watch })[WATCH] = watch;
  },
};

export function messageEvents({ context }: Api): MessageEvents {
  for (const prototype of [IncomingMessage.prototype, ServerResponse.prototype, ClientRequest.prototype] as unknown as { emit: Emit }[]) {
    if (prototype.emit[WRAPPED]) continue;
    const emit = prototype.emit;
    const emitWatched: Emit = function (this: unknown, ...args) {
      const watch = (this as { [WATCH]?: Watch })[WATCH];
      if (watch !== undefined) {
        try {
          watch.seen(args[0], args[1]);
        } catch (error) {
          instrumentationFailed('http', error);
        }
        return context.with(watch.context, emit, this, ...args);
      }
      const ctx = contexts.get(this as object);
      return ctx === undefined ? emit.apply(this, args) : context.with(ctx, emit, this, ...args);
    };
    emitWatched[WRAPPED] = true;
    prototype.emit = emitWatched;
  }
  return events;
}
