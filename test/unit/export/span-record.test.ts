import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, type SpanContext, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { fromRecord, type SpanRecord, toRecord } from '../../../src/export/span-record.js';

const PARENT: SpanContext = {
  traceId: 'd4cda95b652f4a1592b449d5929fda1b',
  spanId: '6e0c63257de34c92',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState('a=1,b=2'),
};
const LINKED: SpanContext[] = [
  { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE, isRemote: true },
  {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: TraceFlags.SAMPLED,
    traceState: new TraceState('x=y'),
  },
  { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', traceFlags: TraceFlags.SAMPLED },
];

/** A span that uses every field the OTLP exporters read, with something dropped of each kind. */
function originalSpan(): ReadableSpan {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'span-record-test', 'service.version': '9.9.9' }),
    sampler: new AlwaysOnSampler(),
    spanLimits: {
      attributeCountLimit: 8,
      eventCountLimit: 2,
      linkCountLimit: 2,
      attributePerEventCountLimit: 3,
      attributePerLinkCountLimit: 2,
    },
  });
  const tracer = provider.getTracer('@rustok/test-scope', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
  const span = tracer.startSpan(
    'GET /orders/:id',
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': 'GET',
        'http.response.status_code': 500,
        'app.ratio': 0.25,
        'app.cached': false,
        'app.tags': ['a', 'b'],
        'app.sizes': [1, 2.5, 3],
        'app.flags': [true, false],
      },
      links: [
        { context: LINKED[0]!, attributes: { 'link.kind': 'dropped with its link' } },
        { context: LINKED[1]!, attributes: { 'link.kind': 'follows', 'link.n': 2, 'link.extra': 'dropped' } },
        { context: LINKED[2]! },
      ],
    },
    trace.setSpanContext(ROOT_CONTEXT, PARENT),
  );
  span.setAttributes({ 'app.eighth': 'kept', 'app.ninth': 'dropped', 'app.tenth': 'dropped' });
  span.addEvent('dropped with the event limit');
  span.addEvent('retry', { attempt: 2, 'retry.reasons': ['timeout', 'reset'] });
  span.addEvent('exception', { 'exception.type': 'Error', 'exception.message': 'boom', 'exception.escaped': true, extra: 'dropped' });
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
  span.end();
  return span as unknown as ReadableSpan;
}

/** What postMessage does to the record on its way to the export thread. */
function roundTrip(span: ReadableSpan): ReadableSpan {
  return fromRecord(structuredClone(toRecord(span)), span.resource);
}

const contextOf = (context: SpanContext | undefined) =>
  context && {
    traceId: context.traceId,
    spanId: context.spanId,
    traceFlags: context.traceFlags,
    traceState: context.traceState?.serialize(),
    isRemote: context.isRemote,
  };

describe('toRecord and fromRecord', () => {
  it('builds a span that uses every field, with something dropped of each kind', () => {
    const span = originalSpan();
    assert.equal(span.droppedAttributesCount, 2);
    assert.equal(span.droppedEventsCount, 1);
    assert.equal(span.droppedLinksCount, 1);
    assert.equal(span.events.at(-1)?.droppedAttributesCount, 1);
    assert.equal(span.links[0]?.droppedAttributesCount, 1);
    assert.equal(span.spanContext().traceState?.serialize(), 'a=1,b=2', 'the trace state is inherited from the parent');
  });

  it('makes a record that postMessage copies unchanged', () => {
    const record = toRecord(originalSpan());
    assert.deepEqual(structuredClone(record), record);
  });

  it('rebuilds every field the OTLP exporters read, after the record was cloned', () => {
    const original = originalSpan();
    const rebuilt = roundTrip(original);

    assert.equal(rebuilt.name, original.name);
    assert.equal(rebuilt.kind, SpanKind.SERVER);
    assert.equal(rebuilt.kind, original.kind);
    assert.deepEqual(contextOf(rebuilt.spanContext()), contextOf(original.spanContext()));
    assert.equal(rebuilt.spanContext().traceState?.serialize(), 'a=1,b=2');
    assert.deepEqual(contextOf(rebuilt.parentSpanContext), contextOf(original.parentSpanContext));
    assert.equal(rebuilt.parentSpanContext?.spanId, PARENT.spanId);
    assert.deepEqual(rebuilt.startTime, original.startTime);
    assert.deepEqual(rebuilt.endTime, original.endTime);
    assert.deepEqual(rebuilt.duration, original.duration);
    assert.deepEqual(rebuilt.status, { code: SpanStatusCode.ERROR, message: 'boom' });
    assert.deepEqual(rebuilt.status, original.status);
    assert.deepEqual(rebuilt.attributes, original.attributes);
    assert.deepEqual(rebuilt.events, original.events);
    assert.deepEqual(
      rebuilt.links.map((link) => ({ ...link, context: contextOf(link.context) })),
      original.links.map((link) => ({ ...link, context: contextOf(link.context) })),
    );
    assert.deepEqual(rebuilt.instrumentationScope, original.instrumentationScope);
    assert.deepEqual(rebuilt.instrumentationScope, {
      name: '@rustok/test-scope',
      version: '1.2.3',
      schemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
    });
    assert.equal(rebuilt.droppedAttributesCount, original.droppedAttributesCount);
    assert.equal(rebuilt.droppedEventsCount, original.droppedEventsCount);
    assert.equal(rebuilt.droppedLinksCount, original.droppedLinksCount);
    assert.equal(rebuilt.resource, original.resource, 'the resource is the one passed in');
    assert.equal(rebuilt.ended, true);
    assert.equal(rebuilt.ended, original.ended);
  });

  it('rebuilds a span that the OTLP protobuf serializer encodes to the same bytes as the original', () => {
    const original = originalSpan();
    const expected = ProtobufTraceSerializer.serializeRequest([original]);
    const actual = ProtobufTraceSerializer.serializeRequest([roundTrip(original)]);
    assert.ok(expected && expected.length > 0);
    assert.ok(actual);
    assert.deepEqual(Buffer.from(actual), Buffer.from(expected));
  });

  it('rebuilds a root span without a parent', () => {
    const tracer = new BasicTracerProvider().getTracer('root');
    const span = tracer.startSpan('root', {}, ROOT_CONTEXT);
    span.end();
    const original = span as unknown as ReadableSpan;
    const rebuilt = roundTrip(original);
    assert.equal(rebuilt.parentSpanContext, undefined);
    assert.equal(rebuilt.spanContext().traceState, undefined);
    assert.deepEqual(
      Buffer.from(ProtobufTraceSerializer.serializeRequest([rebuilt])!),
      Buffer.from(ProtobufTraceSerializer.serializeRequest([original])!),
    );
  });
});

describe('fromRecord duration', () => {
  const record = (startTime: [number, number], endTime: [number, number]): SpanRecord => ({
    context: { traceId: PARENT.traceId, spanId: 'aaaaaaaaaaaaaaaa', traceFlags: TraceFlags.SAMPLED },
    name: 'timed',
    kind: SpanKind.INTERNAL,
    startTime,
    endTime,
    status: { code: SpanStatusCode.UNSET },
    attributes: {},
    links: [],
    events: [],
    scope: { name: 'timed' },
    dropped: [0, 0, 0],
  });
  const resource = resourceFromAttributes({});

  it('borrows a second when the end nanoseconds are below the start nanoseconds', () => {
    assert.deepEqual(fromRecord(record([10, 900_000_000], [11, 100_000_000]), resource).duration, [0, 200_000_000]);
    assert.deepEqual(fromRecord(record([10, 999_999_999], [13, 0]), resource).duration, [2, 1]);
  });

  it('subtracts seconds and nanoseconds separately otherwise', () => {
    assert.deepEqual(fromRecord(record([10, 100], [12, 300]), resource).duration, [2, 200]);
    assert.deepEqual(fromRecord(record([10, 500], [10, 500]), resource).duration, [0, 0]);
  });
});
