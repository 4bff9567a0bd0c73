// The events of HTTP messages, as our instrumentations need them: in which context their listeners
// run, and what an instrumentation sees of them before the listeners do. A server's request and
// response run their listeners in the request's context, and a client request and its response in
// the caller's, as upstream's `context.bind` of each message makes them (a message's events come
// from its socket, in whatever context that had). The messages' prototypes emit so, once for all
// instrumentations: an `emit`, a listener or a property of each message's own would give every
// message a shape of its own that Node's code then reads more slowly.
import { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '@opentelemetry/api';

type Api = typeof import('@opentelemetry/api');
type Emit = ((this: unknown, event: string | symbol, ...args: unknown[]) => boolean) & { [WRAPPED]?: true };

/** Sees an event of a message before its listeners, as an `errorMonitor` listener sees 'error'. */
export type Observer = (event: string | symbol, first: unknown) => void;

export interface MessageEvents {
  /** The message's listeners run in `context` from now on. */
  runIn(message: object, context: Context): void;
  observe(message: object, observer: Observer): void;
}

const WRAPPED = Symbol('@rustok/otel.message-events');
const contexts = new WeakMap<object, Context>();
const observers = new WeakMap<object, Observer>();
const events: MessageEvents = {
  runIn: (message, context) => contexts.set(message, context),
  observe: (message, observer) => observers.set(message, observer),
};

export function messageEvents({ context }: Api): MessageEvents {
  for (const prototype of [IncomingMessage.prototype, ServerResponse.prototype, ClientRequest.prototype] as unknown as { emit: Emit }[]) {
    if (prototype.emit[WRAPPED]) continue;
    const emit = prototype.emit;
    const emitObserved: Emit = function (this: unknown, ...args) {
      observers.get(this as object)?.(args[0], args[1]);
      const ctx = contexts.get(this as object);
      return ctx === undefined ? emit.apply(this, args) : context.with(ctx, emit, this, ...args);
    };
    emitObserved[WRAPPED] = true;
    prototype.emit = emitObserved;
  }
  return events;
}
