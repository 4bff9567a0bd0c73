import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type Context,
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { extractTraceContext, injectTraceContext, traceHandler, tracePublish } from '../../../src/api/envelope.js';
import { assertFailed } from '../../helpers/spans.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();
const propagator = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });

before(() => {
  contextManager.enable();
  assert.ok(context.setGlobalContextManager(contextManager), 'the global context manager is registered');
  assert.ok(trace.setGlobalTracerProvider(provider), 'the global tracer provider is registered');
  assert.ok(propagation.setGlobalPropagator(propagator), 'the global propagator is registered');
});
after(async () => {
  propagation.disable();
  trace.disable();
  context.disable();
  await provider.shutdown();
});
beforeEach(() => exporter.reset());

type Envelope = Record<string, unknown>;

const tracer = () => trace.getTracer('envelope-test');
const finished = () => exporter.getFinishedSpans();

/** Lets queued promise reactions (and the span processor's export) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The one span exported so far. */
function onlySpan(): ReadableSpan {
  const spans = finished();
  assert.equal(spans.length, 1, `exactly one span was exported, got ${spans.map((span) => span.name).join(', ') || 'none'}`);
  return spans[0]!;
}

/** The one exported span of the kind. */
function spanOfKind(kind: SpanKind): ReadableSpan {
  const spans = finished().filter((span) => span.kind === kind);
  assert.equal(spans.length, 1, `exactly one span of kind ${SpanKind[kind]}, got ${spans.length}`);
  return spans[0]!;
}

/** The carrier record of an envelope, asserted to be a plain object. */
function carrierOf(envelope: Envelope, key = 'headers'): Record<string, unknown> {
  const carrier = envelope[key];
  assert.ok(typeof carrier === 'object' && carrier !== null && !Array.isArray(carrier), `envelope.${key} is an object`);
  return carrier as Record<string, unknown>;
}

/** The parts of a W3C traceparent. */
function parseTraceparent(value: unknown): { version: string; traceId: string; spanId: string; flags: string } {
  assert.equal(typeof value, 'string', 'traceparent is a string');
  const match = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})$/.exec(value as string);
  assert.ok(match, `traceparent is well formed: ${String(value)}`);
  return { version: match[1]!, traceId: match[2]!, spanId: match[3]!, flags: match[4]! };
}

/** Publishes the envelope with an empty fn and returns the PRODUCER span it exported. */
function publish(envelope: Envelope): ReadableSpan {
  const before = new Set(finished());
  tracePublish(envelope, () => undefined);
  const added = finished().filter((span) => !before.has(span));
  assert.equal(added.length, 1, 'publishing exported one span');
  assert.equal(added[0]!.kind, SpanKind.PRODUCER);
  return added[0]!;
}

const baggageOf = (entries: Record<string, string>, base: Context = context.active()) =>
  propagation.setBaggage(
    base,
    propagation.createBaggage(Object.fromEntries(Object.entries(entries).map(([key, value]) => [key, { value }]))),
  );

const validTraceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const otherTraceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('injectTraceContext()', () => {
  it('writes a traceparent naming the active span, and returns the same carrier', () => {
    const carrier: Record<string, unknown> = { existing: 'kept' };
    let span: Span | undefined;

    const returned = tracer().startActiveSpan('active', (active) => {
      span = active;
      const result = injectTraceContext(carrier);
      active.end();
      return result;
    });

    assert.equal(returned, carrier);
    assert.equal(carrier.existing, 'kept');
    const parsed = parseTraceparent(carrier.traceparent);
    assert.equal(parsed.version, '00');
    assert.equal(parsed.traceId, span!.spanContext().traceId);
    assert.equal(parsed.spanId, span!.spanContext().spanId);
    assert.equal(parsed.flags, '01', 'the span is sampled');
    assert.equal(carrier.baggage, undefined, 'no baggage without baggage on the context');
  });

  it('writes the span of an explicitly given context rather than the active one', () => {
    const span = tracer().startSpan('explicit');
    const carrier = injectTraceContext<Record<string, unknown>>({}, trace.setSpan(ROOT_CONTEXT, span));
    span.end();

    assert.equal(parseTraceparent(carrier.traceparent).spanId, span.spanContext().spanId);
  });

  it('writes baggage that is on the context', () => {
    const carrier = context.with(baggageOf({ tenant: 'acme', user: 'ann' }), () => injectTraceContext<Record<string, unknown>>({}));

    assert.equal(typeof carrier.baggage, 'string');
    const entries = (carrier.baggage as string).split(',').sort();
    assert.deepEqual(entries, ['tenant=acme', 'user=ann']);
    assert.equal(carrier.traceparent, undefined, 'no span is active');
  });

  it('writes no traceparent (and nothing else) with no active span', () => {
    assert.equal(trace.getActiveSpan(), undefined);
    const carrier: Record<string, unknown> = {};

    assert.equal(injectTraceContext(carrier), carrier);
    assert.deepEqual(carrier, {});
  });
});

describe('extractTraceContext()', () => {
  it('round-trips a carrier produced by injectTraceContext to the same remote span context', () => {
    const span = tracer().startSpan('producer');
    const carrier = injectTraceContext({}, trace.setSpan(ROOT_CONTEXT, span));
    span.end();

    const extracted = trace.getSpanContext(extractTraceContext(carrier, ROOT_CONTEXT));
    assert.ok(extracted, 'a span context was extracted');
    assert.equal(extracted.traceId, span.spanContext().traceId);
    assert.equal(extracted.spanId, span.spanContext().spanId);
    assert.equal(extracted.traceFlags, span.spanContext().traceFlags);
    assert.equal(extracted.isRemote, true);
  });

  it('extracts baggage on top of the base', () => {
    const key = createContextKey('test.key');
    const base = ROOT_CONTEXT.setValue(key, 'base-value');

    const extracted = extractTraceContext({ traceparent: validTraceparent, baggage: 'tenant=acme' }, base);

    assert.equal(propagation.getBaggage(extracted)?.getEntry('tenant')?.value, 'acme');
    assert.equal(extracted.getValue(key), 'base-value', 'the base context values are kept');
    assert.equal(trace.getSpanContext(extracted)?.spanId, 'b7ad6b7169203331');
  });

  const unusable: Array<[string, unknown]> = [
    ['a carrier without traceparent', {}],
    ['a carrier with unrelated keys', { 'content-type': 'application/json' }],
    ['a garbage traceparent', { traceparent: 'garbage' }],
    ['a traceparent with version ff', { traceparent: 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }],
    ['a traceparent with a short trace id', { traceparent: '00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01' }],
    ['a version 00 traceparent with extra fields', { traceparent: `${validTraceparent}-extra` }],
    ['an all-zero trace id', { traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' }],
    ['an empty traceparent', { traceparent: '' }],
    ['a numeric traceparent', { traceparent: 42 }],
    ['an object traceparent', { traceparent: { nested: validTraceparent } }],
    ['undefined', undefined],
    ['null', null],
    ['a string', validTraceparent],
    ['a number', 7],
    ['an array', [validTraceparent]],
  ];

  for (const [label, carrier] of unusable) {
    it(`returns the explicit base itself for ${label}`, () => {
      const base = ROOT_CONTEXT.setValue(createContextKey('base'), label);
      let result: Context | undefined;

      assert.doesNotThrow(() => {
        result = extractTraceContext(carrier, base);
      });
      assert.equal(result, base);
    });

    it(`returns the active context itself by default for ${label}`, () => {
      const active = ROOT_CONTEXT.setValue(createContextKey('active'), label);

      const result = context.with(active, () => extractTraceContext(carrier));

      assert.equal(result, active);
    });
  }

  it('returns the base itself, without throwing, when the propagator throws', () => {
    const throwing: TextMapPropagator = {
      inject: () => {
        throw new Error('inject failed');
      },
      extract: () => {
        throw new Error('extract failed');
      },
      fields: () => [],
    };
    const base = ROOT_CONTEXT.setValue(createContextKey('base'), 'throwing');
    propagation.disable();
    assert.ok(propagation.setGlobalPropagator(throwing));
    try {
      let result: Context | undefined;
      assert.doesNotThrow(() => {
        result = extractTraceContext({ traceparent: validTraceparent }, base);
      });
      assert.equal(result, base);
    } finally {
      propagation.disable();
      assert.ok(propagation.setGlobalPropagator(propagator));
    }
  });

  it('uses the first value when traceparent is an array of strings', () => {
    const extracted = trace.getSpanContext(extractTraceContext({ traceparent: [validTraceparent, otherTraceparent] }, ROOT_CONTEXT));

    assert.equal(extracted?.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(extracted?.spanId, 'b7ad6b7169203331');
    assert.equal(extracted?.isRemote, true);
  });

  it('does not throw on a numeric traceparent and extracts no span context', () => {
    let result: Context | undefined;
    assert.doesNotThrow(() => {
      result = extractTraceContext({ traceparent: 1234 }, ROOT_CONTEXT);
    });
    assert.equal(trace.getSpanContext(result!), undefined);
  });
});

describe('tracePublish()', () => {
  it('exports one PRODUCER span with the messaging name and attributes', () => {
    tracePublish({ id: 'e-1', type: 'order.created' }, () => undefined);

    const span = onlySpan();
    assert.equal(span.kind, SpanKind.PRODUCER);
    assert.equal(span.name, 'publish order.created');
    assert.deepEqual(span.attributes, {
      'messaging.system': 'event_bus',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': 'order.created',
      'messaging.message.id': 'e-1',
    });
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.equal(span.ended, true);
  });

  it('creates envelope.headers with a traceparent naming the PRODUCER span, present already while fn runs', () => {
    const envelope: Envelope = { id: 'e-1', type: 'order.created' };
    let seenInFn: unknown;
    let spanInFn: Span | undefined;

    tracePublish(envelope, (span) => {
      spanInFn = span;
      seenInFn = structuredClone(envelope.headers);
    });

    const span = onlySpan();
    const headers = carrierOf(envelope);
    const parsed = parseTraceparent(headers.traceparent);
    assert.equal(parsed.traceId, span.spanContext().traceId);
    assert.equal(parsed.spanId, span.spanContext().spanId);
    assert.equal(spanInFn?.spanContext().spanId, span.spanContext().spanId);
    assert.deepEqual(seenInFn, headers, 'fn saw the headers already written');
    assert.equal((seenInFn as Record<string, unknown>).traceparent, headers.traceparent);
  });

  it('names the producer span as a child of the span active at publish time', () => {
    let outer: Span | undefined;
    tracer().startActiveSpan('request', (active) => {
      outer = active;
      tracePublish({ type: 'order.created' }, () => undefined);
      active.end();
    });

    const producer = spanOfKind(SpanKind.PRODUCER);
    assert.equal(producer.spanContext().traceId, outer!.spanContext().traceId);
    assert.equal(producer.parentSpanContext?.spanId, outer!.spanContext().spanId);
  });

  it('writes into an existing headers object in place, keeping its other keys', () => {
    const headers: Record<string, unknown> = { 'content-type': 'application/json', attempt: 1 };
    const envelope: Envelope = { id: 'e-2', type: 'order.created', headers };

    tracePublish(envelope, () => undefined);

    assert.equal(envelope.headers, headers, 'the same headers object');
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(headers.attempt, 1);
    assert.equal(parseTraceparent(headers.traceparent).spanId, onlySpan().spanContext().spanId);
  });

  it('writes the active baggage into the headers too', () => {
    const envelope: Envelope = { type: 'order.created' };

    context.with(baggageOf({ tenant: 'acme' }), () => tracePublish(envelope, () => undefined));

    assert.equal(carrierOf(envelope).baggage, 'tenant=acme');
  });

  it("writes into envelope.metadata with carrier: 'metadata'", () => {
    const envelope: Envelope = { id: 'e-3', type: 'order.created', metadata: { source: 'api' } };

    tracePublish(envelope, () => undefined, { carrier: 'metadata' });

    assert.equal('headers' in envelope, false, 'no headers key is added');
    const metadata = carrierOf(envelope, 'metadata');
    assert.equal(metadata.source, 'api');
    assert.equal(parseTraceparent(metadata.traceparent).spanId, onlySpan().spanContext().spanId);
  });

  it("creates envelope.metadata when missing with carrier: 'metadata'", () => {
    const envelope: Envelope = { type: 'order.created' };

    tracePublish(envelope, () => undefined, { carrier: 'metadata' });

    assert.equal('headers' in envelope, false);
    assert.equal(parseTraceparent(carrierOf(envelope, 'metadata').traceparent).spanId, onlySpan().spanContext().spanId);
  });

  it('lets system and destination options override the defaults', () => {
    tracePublish({ id: 'e-4', type: 'order.created' }, () => undefined, { system: 'redis', destination: 'orders-stream' });

    const span = onlySpan();
    assert.equal(span.name, 'publish orders-stream');
    assert.equal(span.attributes['messaging.system'], 'redis');
    assert.equal(span.attributes['messaging.destination.name'], 'orders-stream');
    assert.equal(span.attributes['messaging.message.id'], 'e-4');
  });

  it('falls back to eventType for the destination and eventId for the id', () => {
    tracePublish({ eventId: 'ev-9', eventType: 'user.signed_up' }, () => undefined);

    const span = onlySpan();
    assert.equal(span.name, 'publish user.signed_up');
    assert.equal(span.attributes['messaging.destination.name'], 'user.signed_up');
    assert.equal(span.attributes['messaging.message.id'], 'ev-9');
  });

  it('falls back to event_type for the destination and a numeric event_id for the id', () => {
    tracePublish({ event_id: 42, event_type: 'invoice.paid' }, () => undefined);

    const span = onlySpan();
    assert.equal(span.name, 'publish invoice.paid');
    assert.equal(span.attributes['messaging.destination.name'], 'invoice.paid');
    assert.equal(span.attributes['messaging.message.id'], '42');
  });

  it("uses destination 'unknown' and no message id when the envelope has neither", () => {
    tracePublish({ payload: { a: 1 } }, () => undefined);

    const span = onlySpan();
    assert.equal(span.name, 'publish unknown');
    assert.equal(span.attributes['messaging.destination.name'], 'unknown');
    assert.equal('messaging.message.id' in span.attributes, false);
  });

  it('returns what a synchronous fn returns', () => {
    const value = { stored: true };

    assert.equal(
      tracePublish({ type: 'order.created' }, () => value),
      value,
    );
    assert.equal(onlySpan().ended, true);
  });

  it('returns a promise of what an async fn resolves to, ending the span after it settles', async () => {
    const result = tracePublish({ type: 'order.created' }, async () => {
      await settle();
      return 'queued';
    });

    assert.ok(result instanceof Promise);
    assert.equal(finished().length, 0, 'the span is open while fn is pending');
    assert.equal(await result, 'queued');
    await settle();
    assert.equal(onlySpan().ended, true);
  });

  it('makes the span active inside fn, and the span passed to fn', async () => {
    let passed: Span | undefined;
    let active: Span | undefined;
    let activeAfterAwait: Span | undefined;

    await tracePublish({ type: 'order.created' }, async (span) => {
      passed = span;
      active = trace.getActiveSpan();
      await settle();
      activeAfterAwait = trace.getActiveSpan();
    });

    assert.ok(passed);
    assert.equal(active, passed);
    assert.equal(activeAfterAwait, passed);
    assert.equal(passed.spanContext().spanId, onlySpan().spanContext().spanId);
    assert.equal(trace.getActiveSpan(), undefined);
  });

  it('rethrows the same error from a synchronous fn and records it on the span', () => {
    const error = new TypeError('bus down');

    assert.throws(
      () =>
        tracePublish({ type: 'order.created' }, () => {
          throw error;
        }),
      (thrown) => thrown === error,
    );

    const span = onlySpan();
    assert.equal(span.kind, SpanKind.PRODUCER);
    assertFailed(span, 'bus down');
  });

  it('rejects with the same error from an async fn and records it on the span', async () => {
    const error = new RangeError('outbox full');

    await assert.rejects(
      tracePublish({ type: 'order.created' }, async () => {
        await settle();
        throw error;
      }),
      (rejected) => rejected === error,
    );
    await settle();

    assertFailed(onlySpan(), 'outbox full');
  });

  it('leaves a headers field that is not an object as it is, without throwing', () => {
    const envelope: Envelope = { type: 'order.created', headers: 'not-an-object' };

    const result = tracePublish(envelope, () => 'ok');

    assert.equal(result, 'ok');
    assert.equal(envelope.headers, 'not-an-object');
    assert.equal(onlySpan().status.code, SpanStatusCode.UNSET);
  });

  it('leaves a headers array as it is, without throwing', () => {
    const headers = ['x'];
    const envelope: Envelope = { type: 'order.created', headers };

    assert.doesNotThrow(() => tracePublish(envelope, () => undefined));
    assert.equal(envelope.headers, headers);
    assert.deepEqual(headers, ['x']);
  });
});

describe('traceHandler()', () => {
  it('continues the producer trace in a CONSUMER span with the messaging attributes', async () => {
    const envelope: Envelope = { id: 'e-1', type: 'order.created' };
    const producer = publish(envelope);
    exporter.reset();

    await traceHandler(async (_event: Envelope) => undefined)(envelope);

    const consumer = onlySpan();
    assert.equal(consumer.kind, SpanKind.CONSUMER);
    assert.equal(consumer.name, 'process order.created');
    assert.equal(consumer.spanContext().traceId, producer.spanContext().traceId);
    assert.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId);
    assert.equal(consumer.parentSpanContext?.isRemote, true);
    assert.deepEqual(consumer.attributes, {
      'messaging.system': 'event_bus',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': 'order.created',
      'messaging.message.id': 'e-1',
    });
    assert.deepEqual(consumer.links, []);
    assert.equal(consumer.status.code, SpanStatusCode.UNSET);
    assert.equal(consumer.ended, true);
  });

  it('honours system and destination options', async () => {
    const envelope: Envelope = { id: 'e-1', type: 'order.created' };
    publish(envelope);
    exporter.reset();

    await traceHandler((_event: Envelope) => undefined, { system: 'kafka', destination: 'orders' })(envelope);

    const consumer = onlySpan();
    assert.equal(consumer.name, 'process orders');
    assert.equal(consumer.attributes['messaging.system'], 'kafka');
    assert.equal(consumer.attributes['messaging.destination.name'], 'orders');
  });

  it('runs the handler with the consumer span active', async () => {
    const envelope: Envelope = { type: 'order.created' };
    publish(envelope);
    exporter.reset();
    let activeAtStart: Span | undefined;
    let activeAfterAwait: Span | undefined;

    await traceHandler(async (_event: Envelope) => {
      activeAtStart = trace.getActiveSpan();
      await settle();
      activeAfterAwait = trace.getActiveSpan();
    })(envelope);

    const consumer = onlySpan();
    assert.equal(activeAtStart?.spanContext().spanId, consumer.spanContext().spanId);
    assert.equal(activeAfterAwait?.spanContext().spanId, consumer.spanContext().spanId);
  });

  it('returns a promise of a synchronous handler’s value', async () => {
    const value = { handled: 1 };
    const result = traceHandler((_event: Envelope) => value)({ type: 'order.created' });

    assert.ok(result instanceof Promise);
    assert.equal(await result, value);
  });

  it('returns a promise of an asynchronous handler’s value, ending the span after it settles', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const result = traceHandler(async (_event: Envelope) => {
      await gate;
      return 'done';
    })({ type: 'order.created' });

    assert.ok(result instanceof Promise);
    await settle();
    assert.equal(finished().length, 0, 'the span is open while the handler is pending');
    release();
    assert.equal(await result, 'done');
    await settle();
    assert.equal(onlySpan().ended, true);
  });

  it('forwards the extra arguments after the envelope', async () => {
    const envelope: Envelope = { type: 'order.created' };
    let received: unknown[] | undefined;
    const meta = { partition: 3 };

    await traceHandler((event: Envelope, attempt: number, extra: { partition: number }) => {
      received = [event, attempt, extra];
    })(envelope, 2, meta);

    assert.deepEqual(received, [envelope, 2, meta]);
    assert.equal(received![0], envelope);
    assert.equal(received![2], meta);
  });

  it('rejects with the same error when the handler throws synchronously, recording it', async () => {
    const error = new TypeError('cannot handle');
    const wrapped = traceHandler((_event: Envelope) => {
      throw error;
    });

    let result: Promise<never> | undefined;
    assert.doesNotThrow(() => {
      result = wrapped({ type: 'order.created' });
    }, 'the wrapped handler does not throw synchronously');
    await assert.rejects(result!, (rejected) => rejected === error);
    await settle();

    const span = onlySpan();
    assert.equal(span.kind, SpanKind.CONSUMER);
    assertFailed(span, 'cannot handle');
  });

  it('rejects with the same error when the handler rejects, recording it', async () => {
    const error = new RangeError('handler failed');

    await assert.rejects(
      traceHandler(async (_event: Envelope) => {
        await settle();
        throw error;
      })({ type: 'order.created' }),
      (rejected) => rejected === error,
    );
    await settle();

    assertFailed(onlySpan(), 'handler failed');
  });

  it('with link: true starts a new trace linked to the producer span', async () => {
    const envelope: Envelope = { id: 'e-5', type: 'order.created' };
    const producer = publish(envelope);
    exporter.reset();

    await traceHandler((_event: Envelope) => undefined, { link: true })(envelope);

    const consumer = onlySpan();
    assert.equal(consumer.kind, SpanKind.CONSUMER);
    assert.notEqual(consumer.spanContext().traceId, producer.spanContext().traceId);
    assert.equal(consumer.parentSpanContext, undefined);
    assert.equal(consumer.links.length, 1);
    assert.equal(consumer.links[0]!.context.traceId, producer.spanContext().traceId);
    assert.equal(consumer.links[0]!.context.spanId, producer.spanContext().spanId);
    assert.equal(consumer.attributes['messaging.message.id'], 'e-5');
  });

  it('with link: true starts a new trace even when a span is active at the call', async () => {
    const envelope: Envelope = { type: 'order.created' };
    const producer = publish(envelope);
    exporter.reset();
    let outer: Span | undefined;

    await tracer().startActiveSpan('poller', async (active) => {
      outer = active;
      await traceHandler((_event: Envelope) => undefined, { link: true })(envelope);
      active.end();
    });

    const consumer = spanOfKind(SpanKind.CONSUMER);
    assert.equal(consumer.parentSpanContext, undefined);
    assert.notEqual(consumer.spanContext().traceId, outer!.spanContext().traceId);
    assert.notEqual(consumer.spanContext().traceId, producer.spanContext().traceId);
    assert.equal(consumer.links.length, 1);
    assert.equal(consumer.links[0]!.context.spanId, producer.spanContext().spanId);
  });

  it('with a link predicate links when it returns true and continues when it returns false', async () => {
    const old: Envelope = { id: 'old', type: 'order.created', redelivered: true };
    const fresh: Envelope = { id: 'fresh', type: 'order.created', redelivered: false };
    const oldProducer = publish(old);
    const freshProducer = publish(fresh);
    exporter.reset();
    const asked: unknown[] = [];
    const wrapped = traceHandler((_event: Envelope) => undefined, {
      link: (event) => {
        asked.push(event);
        return event.redelivered === true;
      },
    });

    await wrapped(old);
    await wrapped(fresh);

    assert.equal(asked.length, 2);
    assert.equal(asked[0], old, 'the predicate is given the envelope');
    assert.equal(asked[1], fresh);
    const consumers = finished();
    assert.equal(consumers.length, 2);
    const [linked, continued] = consumers as [ReadableSpan, ReadableSpan];
    assert.equal(linked.attributes['messaging.message.id'], 'old');
    assert.equal(linked.parentSpanContext, undefined);
    assert.notEqual(linked.spanContext().traceId, oldProducer.spanContext().traceId);
    assert.equal(linked.links.length, 1);
    assert.equal(linked.links[0]!.context.spanId, oldProducer.spanContext().spanId);

    assert.equal(continued.attributes['messaging.message.id'], 'fresh');
    assert.equal(continued.spanContext().traceId, freshProducer.spanContext().traceId);
    assert.equal(continued.parentSpanContext?.spanId, freshProducer.spanContext().spanId);
    assert.deepEqual(continued.links, []);
  });

  it('gives a batch one span linked to each message, with the message count and no parent', async () => {
    const batch: Envelope[] = [
      { id: 'b-1', type: 'order.created' },
      { id: 'b-2', type: 'order.updated' },
      { id: 'b-3', type: 'order.deleted' },
    ];
    const producers = batch.map((envelope) => publish(envelope));
    assert.equal(new Set(producers.map((span) => span.spanContext().traceId)).size, 3, 'three producer traces');
    exporter.reset();
    let received: unknown;

    await traceHandler((events: Envelope[]) => {
      received = events;
    })(batch);

    assert.equal(received, batch);
    const consumer = onlySpan();
    assert.equal(consumer.kind, SpanKind.CONSUMER);
    assert.equal(consumer.name, 'process order.created');
    assert.equal(consumer.parentSpanContext, undefined);
    assert.equal(
      producers.some((producer) => producer.spanContext().traceId === consumer.spanContext().traceId),
      false,
      'the batch span is in a trace of its own',
    );
    assert.equal(consumer.attributes['messaging.batch.message_count'], 3);
    assert.equal(consumer.attributes['messaging.destination.name'], 'order.created');
    assert.equal('messaging.message.id' in consumer.attributes, false);
    assert.deepEqual(
      consumer.links.map((link) => [link.context.traceId, link.context.spanId]),
      producers.map((producer) => [producer.spanContext().traceId, producer.spanContext().spanId]),
    );
  });

  it('makes the span of an envelope without headers a child of the span active at the call', async () => {
    let outer: Span | undefined;

    await tracer().startActiveSpan('poller', async (active) => {
      outer = active;
      await traceHandler((_event: Envelope) => undefined)({ id: 'n-1', type: 'order.created' });
      active.end();
    });

    const consumer = spanOfKind(SpanKind.CONSUMER);
    assert.equal(consumer.spanContext().traceId, outer!.spanContext().traceId);
    assert.equal(consumer.parentSpanContext?.spanId, outer!.spanContext().spanId);
    assert.deepEqual(consumer.links, []);
  });

  it('makes the span of an envelope without headers a root when no span is active', async () => {
    assert.equal(trace.getActiveSpan(), undefined);

    await traceHandler((_event: Envelope) => undefined)({ id: 'n-2', type: 'order.created' });

    const consumer = onlySpan();
    assert.equal(consumer.parentSpanContext, undefined);
    assert.deepEqual(consumer.links, []);
  });

  it('makes the message’s baggage active in the handler when continuing the trace', async () => {
    const envelope: Envelope = { type: 'order.created' };
    context.with(baggageOf({ tenant: 'acme' }), () => publish(envelope));
    assert.equal(carrierOf(envelope).baggage, 'tenant=acme');
    let seen: string | undefined;

    await traceHandler((_event: Envelope) => {
      seen = propagation.getActiveBaggage()?.getEntry('tenant')?.value;
    })(envelope);

    assert.equal(seen, 'acme');
  });

  it('makes the message’s baggage active in the handler when linking', async () => {
    const envelope: Envelope = { type: 'order.created' };
    const producer = context.with(baggageOf({ tenant: 'globex' }), () => publish(envelope));
    exporter.reset();
    let seen: string | undefined;

    await traceHandler(
      (_event: Envelope) => {
        seen = propagation.getActiveBaggage()?.getEntry('tenant')?.value;
      },
      { link: true },
    )(envelope);

    assert.equal(seen, 'globex');
    const consumer = onlySpan();
    assert.equal(consumer.parentSpanContext, undefined);
    assert.equal(consumer.links.length, 1);
    assert.equal(consumer.links[0]!.context.spanId, producer.spanContext().spanId);
  });

  it("reads the context from envelope.metadata with carrier: 'metadata'", async () => {
    const envelope: Envelope = { type: 'order.created' };
    tracePublish(envelope, () => undefined, { carrier: 'metadata' });
    const producer = spanOfKind(SpanKind.PRODUCER);
    exporter.reset();

    await traceHandler((_event: Envelope) => undefined, { carrier: 'metadata' })(envelope);

    const consumer = onlySpan();
    assert.equal(consumer.spanContext().traceId, producer.spanContext().traceId);
    assert.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId);
  });

  it("ignores envelope.headers when told to read carrier: 'metadata'", async () => {
    const envelope: Envelope = { type: 'order.created' };
    publish(envelope);
    exporter.reset();

    await traceHandler((_event: Envelope) => undefined, { carrier: 'metadata' })(envelope);

    assert.equal(onlySpan().parentSpanContext, undefined);
  });
});

// Last: a fresh process with no SDK at all.
describe('with no OpenTelemetry SDK registered', () => {
  it('works in a process that never registered a provider or a propagator', () => {
    const script = `
      import { context, ROOT_CONTEXT } from '@opentelemetry/api';
      import { extractTraceContext, injectTraceContext, traceHandler, tracePublish } from ${JSON.stringify(
        new URL('../../../src/api/envelope.ts', import.meta.url).href,
      )};
      const envelope = { id: 'e-1', type: 'order.created' };
      const published = tracePublish(envelope, (span) => (span.isRecording() ? 'recording' : 'no-op'));
      const publishedAsync = await tracePublish({ type: 'x' }, async () => 'async-publish');
      const handled = await traceHandler(async (event, extra) => event.id + ':' + extra)(envelope, 'arg');
      const handledLinked = await traceHandler((event) => event.id, { link: true })(envelope);
      const carrier = {};
      const injected = injectTraceContext(carrier);
      const extracted = extractTraceContext({ traceparent: ${JSON.stringify(validTraceparent)} });
      console.log(JSON.stringify({
        published,
        publishedAsync,
        envelopeKeys: Object.keys(envelope),
        handled,
        handledLinked,
        sameCarrier: injected === carrier,
        carrier,
        extractedIsActive: extracted === context.active(),
        extractedIsRoot: extracted === ROOT_CONTEXT,
      }));
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    });

    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), {
      published: 'no-op',
      publishedAsync: 'async-publish',
      envelopeKeys: ['id', 'type'],
      handled: 'e-1:arg',
      handledLinked: 'e-1',
      sameCarrier: true,
      carrier: {},
      extractedIsActive: true,
      extractedIsRoot: true,
    });
  });
});

describe('envelopes that are not plain records', () => {
  it('tracePublish runs fn and returns its value for a frozen envelope, which travels without the context', () => {
    const envelope = Object.freeze({ id: 'e-9', type: 'order.created', headers: Object.freeze({}) });

    const result = tracePublish(envelope, () => 'sent');

    assert.equal(result, 'sent');
    assert.deepEqual(envelope.headers, {});
    assert.equal(onlySpan().name, 'publish order.created');
  });

  it('tracePublish does not throw for a frozen envelope without headers', () => {
    const envelope = Object.freeze({ id: 'e-10', type: 'order.created' });

    assert.equal(
      tracePublish(envelope, () => 7),
      7,
    );
    assert.equal('headers' in envelope, false);
  });

  it('traceHandler runs the handler for a null message, in a CONSUMER span with an unknown destination', async () => {
    const handle = traceHandler((message: object | null) => `handled ${message}`);

    assert.equal(await handle(null as unknown as object), 'handled null');
    const span = spanOfKind(SpanKind.CONSUMER);
    assert.equal(span.name, 'process unknown');
    assert.equal(span.attributes['messaging.message.id'], undefined);
  });
});
