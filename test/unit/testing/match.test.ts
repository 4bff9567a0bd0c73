import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkMatch, LOGS, METRICS, mismatch, notArrived, SPANS, type SpanMatch } from '../../../src/testing/match.js';
import type { ReceivedLog, ReceivedMetricPoint, ReceivedSpan } from '../../../src/testing/received.js';

const TRACE = 'a'.repeat(32);

function span(fields: Partial<ReceivedSpan> = {}): ReceivedSpan {
  return {
    traceId: TRACE,
    spanId: 'b'.repeat(16),
    parentSpanId: '',
    name: 'GET /orders/:id',
    kind: 'server',
    startTimeUnixNano: 1n,
    endTimeUnixNano: 2n,
    attributes: { 'http.route': '/orders/:id', 'http.response.status_code': 200, 'http.request.method': 'GET' },
    resource: { 'service.name': 'orders' },
    status: { code: 'unset', message: '' },
    events: [],
    links: [],
    ...fields,
  };
}

function point(fields: Partial<ReceivedMetricPoint> = {}): ReceivedMetricPoint {
  return {
    name: 'http.server.request.duration',
    unit: 's',
    type: 'histogram',
    attributes: { 'http.route': '/orders/:id', 'http.response.status_code': 200 },
    count: 1,
    sum: 0.01,
    resource: { 'service.name': 'orders' },
    ...fields,
  };
}

function log(fields: Partial<ReceivedLog> = {}): ReceivedLog {
  return {
    traceId: TRACE,
    spanId: 'b'.repeat(16),
    timeUnixNano: 1n,
    severityNumber: 9,
    severityText: 'info',
    body: 'order placed',
    attributes: { 'order.id': 'o-1' },
    resource: { 'service.name': 'orders' },
    ...fields,
  };
}

const spanMiss = (item: ReceivedSpan, match: SpanMatch) => mismatch(SPANS, item, match);

describe('matching spans', () => {
  it('matches everything when the match names nothing', () => {
    assert.equal(spanMiss(span(), {}), undefined);
  });

  it('compares a name given as a string for equality and tests one given as a RegExp', () => {
    assert.equal(spanMiss(span(), { name: 'GET /orders/:id' }), undefined);
    assert.equal(spanMiss(span(), { name: /^GET / }), undefined);
    assert.equal(spanMiss(span(), { name: 'GET /orders' }), "name is 'GET /orders/:id', not 'GET /orders'");
    assert.equal(spanMiss(span(), { name: /^POST/ }), "name 'GET /orders/:id' does not match /^POST/");
  });

  it('gives a global RegExp the same answer for every span', () => {
    const match = { name: /orders/g };
    assert.deepEqual(
      [span(), span(), span()].map((item) => spanMiss(item, match)),
      [undefined, undefined, undefined],
    );
  });

  it('compares kind and status by name', () => {
    assert.equal(spanMiss(span(), { kind: 'server', status: 'unset' }), undefined);
    assert.equal(spanMiss(span({ kind: 'client' }), { kind: 'server' }), "kind is 'client', not 'server'");
    assert.equal(spanMiss(span({ status: { code: 'error', message: 'boom' } }), { status: 'ok' }), "status is 'error', not 'ok'");
  });

  it('requires the listed attributes only, each equal, or matching when the value is a RegExp', () => {
    assert.equal(spanMiss(span(), { attributes: { 'http.response.status_code': 200 } }), undefined);
    assert.equal(spanMiss(span(), { attributes: { 'http.route': /^\/orders/ } }), undefined);
    assert.equal(
      spanMiss(span(), { attributes: { 'http.response.status_code': 500 } }),
      "attributes['http.response.status_code'] is 200, not 500",
    );
    assert.equal(
      spanMiss(span(), { attributes: { 'http.response.status_code': /^2/ } }),
      "attributes['http.response.status_code'] 200 does not match /^2/",
      'a RegExp matches strings only',
    );
    assert.equal(spanMiss(span(), { attributes: { 'order.id': 'o-1' } }), "attributes['order.id'] is absent, not 'o-1'");
  });

  it('compares array attributes item by item, and takes undefined for an attribute that must be absent', () => {
    const tagged = span({ attributes: { tags: ['a', 'b'] } });
    assert.equal(spanMiss(tagged, { attributes: { tags: ['a', 'b'] } }), undefined);
    assert.equal(spanMiss(tagged, { attributes: { tags: ['a'] } }), "attributes['tags'] is [ 'a', 'b' ], not [ 'a' ]");
    assert.equal(spanMiss(tagged, { attributes: { 'enduser.id': undefined } }), undefined);
    assert.equal(spanMiss(tagged, { attributes: { tags: undefined } }), "attributes['tags'] is [ 'a', 'b' ], not absent");
    assert.equal(spanMiss(tagged, { attributes: { constructor: undefined, toString: undefined } }), undefined, 'own attributes only');
  });

  it('matches the service by the resource, and the trace, parent and anything else asked', () => {
    assert.equal(spanMiss(span(), { service: 'orders', traceId: TRACE, parentSpanId: '' }), undefined);
    assert.equal(spanMiss(span(), { service: 'billing' }), "resource['service.name'] is 'orders', not 'billing'");
    assert.equal(spanMiss(span({ parentSpanId: 'c'.repeat(16) }), { parentSpanId: '' }), `parentSpanId is '${'c'.repeat(16)}', not ''`);
    assert.equal(spanMiss(span(), { where: (item) => item.endTimeUnixNano > item.startTimeUnixNano }), undefined);
    assert.equal(spanMiss(span(), { where: () => false }), 'where() returned false');
  });
});

describe('matching metric data points', () => {
  it('matches the metric name and the attributes of the point', () => {
    assert.equal(
      mismatch(METRICS, point(), { name: 'http.server.request.duration', attributes: { 'http.route': '/orders/:id' } }),
      undefined,
    );
    assert.equal(
      mismatch(METRICS, point(), { name: 'http.server.request.duration', attributes: { 'http.route': '/health' } }),
      "attributes['http.route'] is '/orders/:id', not '/health'",
    );
    assert.equal(
      mismatch(METRICS, point(), { name: 'http.client.request.duration' }),
      "name is 'http.server.request.duration', not 'http.client.request.duration'",
    );
    assert.equal(mismatch(METRICS, point({ count: 2 }), { where: (item) => (item.count ?? 0) >= 3 }), 'where() returned false');
  });
});

describe('matching log records', () => {
  it('matches a string body, and a non-string body only through where', () => {
    assert.equal(mismatch(LOGS, log(), { body: /placed/ }), undefined);
    assert.equal(mismatch(LOGS, log(), { body: 'order placed' }), undefined);
    assert.equal(mismatch(LOGS, log({ body: { order: 1 } }), { body: /order/ }), 'body { order: 1 } does not match /order/');
    assert.equal(mismatch(LOGS, log({ body: 42 }), { where: (item) => item.body === 42 }), undefined);
  });

  it('matches severity, attributes, trace and span', () => {
    const match = { severityText: /^info$/i, severityNumber: 9, attributes: { 'order.id': 'o-1' }, traceId: TRACE, spanId: 'b'.repeat(16) };
    assert.equal(mismatch(LOGS, log(), match), undefined);
    assert.equal(mismatch(LOGS, log({ severityNumber: 17 }), { severityNumber: 9 }), 'severityNumber is 17, not 9');
    assert.equal(mismatch(LOGS, log({ spanId: '' }), { spanId: 'b'.repeat(16) }), `spanId is '', not '${'b'.repeat(16)}'`);
  });
});

describe('checking a match', () => {
  it('throws for a field no match has, since it would match everything', () => {
    assert.throws(
      () => checkMatch(SPANS, { attribute: { a: 1 } } as SpanMatch),
      new TypeError(
        "receiver.spans(): unknown field 'attribute'; one of name, kind, status, attributes, service, traceId, parentSpanId, where",
      ),
    );
    assert.throws(() => checkMatch(LOGS, { name: 'x' } as object), /receiver\.logs\(\): unknown field 'name'; one of body,/);
  });

  it('throws for a kind or status that does not exist', () => {
    assert.throws(
      () => checkMatch(SPANS, { kind: 'SERVER' } as unknown as SpanMatch),
      new TypeError("receiver.spans(): kind 'SERVER' is not one of internal, server, client, producer, consumer"),
    );
    assert.throws(() => checkMatch(SPANS, { status: 'failed' } as unknown as SpanMatch), /status 'failed' is not one of unset, ok, error/);
  });

  it('accepts every field of its signal', () => {
    checkMatch(SPANS, {
      name: 'a',
      kind: 'client',
      status: 'error',
      attributes: {},
      service: 's',
      traceId: '',
      parentSpanId: '',
      where: () => true,
    });
    checkMatch(METRICS, { name: 'a', attributes: {}, service: 's', where: () => true });
    checkMatch(LOGS, {
      body: 'a',
      severityText: 'info',
      severityNumber: 9,
      attributes: {},
      service: 's',
      traceId: '',
      spanId: '',
      where: () => true,
    });
  });
});

describe('saying what arrived instead', () => {
  it('says that nothing arrived, and what to check', () => {
    assert.equal(
      notArrived(SPANS, { name: 'GET /orders/:id' }, 1, 5000, []),
      "receiver.spans(): expected at least 1 span matching { name: 'GET /orders/:id' } within 5000 ms, but no spans arrived. " +
        'Was the process under test started with --import @rustok/otel/register and the variables of receiver.env()?',
    );
  });

  it('explains each span of the expected name, and only counts the others by name', () => {
    const received = [
      span({ kind: 'client' }),
      span({ name: 'load order', kind: 'internal' }),
      span({ name: 'load order', kind: 'internal' }),
      span({ attributes: { 'http.response.status_code': 500 } }),
      span({ attributes: { 'http.response.status_code': 500 } }),
    ];
    const match: SpanMatch = { name: 'GET /orders/:id', kind: 'server', attributes: { 'http.response.status_code': 200 } };
    assert.equal(
      notArrived(SPANS, match, 1, 5000, received),
      [
        "receiver.spans(): expected at least 1 span matching { name: 'GET /orders/:id', kind: 'server', attributes: { 'http.response.status_code': 200 } } within 5000 ms, but none of the 5 received matched.",
        'With that name:',
        "  1 × 'GET /orders/:id' (client): kind is 'client', not 'server'",
        "  2 × 'GET /orders/:id' (server): attributes['http.response.status_code'] is 500, not 200",
        "Other names: 2 × 'load order' (internal)",
      ].join('\n'),
    );
  });

  it('says how many matched when fewer than asked, and explains every span when the match names none', () => {
    const message = notArrived(SPANS, { kind: 'server' }, 2, 100, [span(), span({ name: 'load order', kind: 'internal' })]);
    assert.equal(
      message,
      [
        "receiver.spans(): expected at least 2 spans matching { kind: 'server' } within 100 ms, but 1 of the 2 received matched.",
        'Received:',
        "  1 × 'GET /orders/:id' (server): matches",
        "  1 × 'load order' (internal): kind is 'internal', not 'server'",
      ].join('\n'),
    );
  });

  it('describes metric points by name and type, and log records by body and severity', () => {
    const metrics = notArrived(METRICS, { name: 'http.server.request.duration', attributes: { 'http.route': '/x' } }, 1, 100, [
      point(),
      point({ name: 'v8js.memory.heap.used', type: 'gauge', value: 1 }),
    ]);
    assert.match(
      metrics,
      /\n {2}1 × 'http\.server\.request\.duration' \(histogram\): attributes\['http\.route'\] is '\/orders\/:id', not '\/x'\n/,
    );
    assert.match(metrics, /\nOther names: 1 × 'v8js\.memory\.heap\.used' \(gauge\)$/);
    const logs = notArrived(LOGS, { body: /shipped/ }, 1, 100, [
      log(),
      log({ body: 'x'.repeat(100), severityText: '', severityNumber: 17 }),
    ]);
    assert.match(logs, /expected at least 1 log record matching \{ body: \/shipped\/ \}/);
    assert.match(logs, /\nOther bodies: 1 × 'order placed' \(info\), 1 × 'x{59}…' \(17\)$/);
  });

  it('lists at most twenty kinds of near miss', () => {
    const received = Array.from({ length: 25 }, (_, n) => span({ attributes: { n } }));
    const lines = notArrived(SPANS, { attributes: { n: -1 } }, 1, 100, received).split('\n');
    assert.equal(lines.length, 1 + 1 + 20 + 1);
    assert.equal(lines.at(-1), '  … and 5 more');
  });
});
