// Trace context through an application's own events: the envelope an app already serialises (to an
// outbox row, a queue, a bus) carries W3C `traceparent`/`tracestate`/`baggage` in one of its records,
// so a consumer in another process, minutes later, continues or links to the producer's trace.
// Everything here is safe to call with tracing off: the API's no-op tracer and propagator do nothing.
import {
  type Attributes,
  type Context,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';
import { inSpan } from './traced.js';

export interface EnvelopeOptions {
  /** The envelope's record that carries the context. Default `headers`. */
  readonly carrier?: string;
  /** `messaging.system`. Default `event_bus`; name the broker when there is one (`redis`, `kafka`). */
  readonly system?: string;
  /** `messaging.destination.name`. Default: the envelope's `type`, `eventType` or `event_type`. */
  readonly destination?: string;
}

export interface HandlerOptions<E> extends EnvelopeOptions {
  /**
   * Start a new trace that links to the producer's span instead of continuing it: `true`, or a test
   * of the envelope (an old message, a redelivery) so a relay's delay does not stretch the request's
   * trace. A batch (an array of envelopes) always gets one span linked to each message.
   */
  readonly link?: boolean | ((envelope: E) => boolean);
}

type Carrier = Record<string, unknown>;

const getter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key];
    if (typeof value === 'string') return value;
    // A header repeated on the wire (tracestate, baggage): the propagators join the values.
    if (Array.isArray(value)) {
      const strings = value.filter((item): item is string => typeof item === 'string');
      return strings.length > 0 ? strings : undefined;
    }
    return undefined;
  },
};

const isRecord = (value: unknown): value is Carrier => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Writes the context's `traceparent`, `tracestate` and `baggage` into `carrier` and returns it. */
export function injectTraceContext<C extends Carrier>(carrier: C, from: Context = context.active()): C {
  propagation.inject(from, carrier);
  return carrier;
}

/**
 * The context a carrier describes, on top of `base` (the active context by default). A missing,
 * corrupt or non-object carrier yields `base` unchanged; this never throws.
 */
export function extractTraceContext(carrier: unknown, base: Context = context.active()): Context {
  if (!isRecord(carrier)) return base;
  try {
    return propagation.extract(base, carrier, getter);
  } catch {
    return base;
  }
}

/**
 * Runs `fn` (the publish: a bus call, an outbox insert) inside a PRODUCER span, after writing the
 * span's context into the envelope's carrier (created when missing, written in place), so whatever
 * `fn` serialises carries it. Returns what `fn` returns; errors are recorded and passed on.
 */
export function tracePublish<E extends object, T>(envelope: E, fn: (span: Span) => T, options: EnvelopeOptions = {}): T {
  const destination = destinationOf(envelope, options);
  const attributes: Attributes = {
    ...messagingAttributes(options, destination, 'publish', 'send'),
    ...messageId(envelope),
  };
  return inSpan(`publish ${destination}`, { kind: SpanKind.PRODUCER, attributes }, context.active(), (span) => {
    const written = injectTraceContext({});
    const record: unknown = envelope;
    if (Object.keys(written).length > 0 && isRecord(record)) {
      try {
        const key = options.carrier ?? 'headers';
        record[key] ??= {};
        const carrier = record[key];
        if (isRecord(carrier)) Object.assign(carrier, written);
      } catch {
        // A frozen envelope or carrier travels without the context rather than failing the publish.
      }
    }
    return fn(span);
  });
}

/**
 * Wraps a message handler: each call runs inside a CONSUMER span that continues the producer's trace
 * (or links to it, see `link`), with the messaging attributes, errors recorded and passed on.
 */
export function traceHandler<E extends object, A extends unknown[], R>(
  handler: (envelope: E, ...rest: A) => R | PromiseLike<R>,
  options: HandlerOptions<E> = {},
): (envelope: E, ...rest: A) => Promise<R> {
  const key = options.carrier ?? 'headers';
  return async (envelope, ...rest): Promise<R> => {
    const messages: unknown[] = Array.isArray(envelope) ? envelope : [envelope];
    const first = isRecord(messages[0]) ? messages[0] : {};
    const destination = destinationOf(first, options);
    const attributes: Attributes = {
      ...messagingAttributes(options, destination, 'process', 'process'),
      ...(Array.isArray(envelope) ? { 'messaging.batch.message_count': envelope.length } : messageId(envelope as object)),
    };
    const carriers = messages.map((message) => (isRecord(message) ? message[key] : undefined));
    const linked = Array.isArray(envelope) || (typeof options.link === 'function' ? options.link(envelope) : options.link === true);
    const links: Link[] = [];
    if (linked) {
      for (const carrier of carriers) {
        const producer = trace.getSpanContext(extractTraceContext(carrier, ROOT_CONTEXT));
        if (producer) links.push({ context: producer });
      }
    }
    // Linked or not, the message's baggage applies to the handler.
    const parent = extractTraceContext(carriers[0], context.active());
    return inSpan(`process ${destination}`, { kind: SpanKind.CONSUMER, attributes, links, root: linked }, parent, async () =>
      handler(envelope, ...rest),
    );
  };
}

function messagingAttributes(options: EnvelopeOptions, destination: string, name: string, type: string): Attributes {
  return {
    'messaging.system': options.system ?? 'event_bus',
    'messaging.operation.name': name,
    'messaging.operation.type': type,
    'messaging.destination.name': destination,
  };
}

function destinationOf(envelope: object, options: EnvelopeOptions): string {
  return options.destination ?? firstString(envelope, ['type', 'eventType', 'event_type']) ?? 'unknown';
}

function messageId(envelope: object): Attributes {
  const id = firstString(envelope, ['id', 'eventId', 'event_id']);
  return id === undefined ? {} : { 'messaging.message.id': id };
}

function firstString(envelope: object, keys: readonly string[]): string | undefined {
  if (!isRecord(envelope)) return undefined;
  for (const key of keys) {
    const value = (envelope as Carrier)[key];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return String(value);
  }
  return undefined;
}
