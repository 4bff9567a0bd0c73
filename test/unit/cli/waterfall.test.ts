// The waterfall `rustok-otel dev` prints, with log records: pure rendering of spans and records built by hand.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderLog, renderTrace, TraceAssembler } from '../../../src/cli/waterfall.js';
import type { ReceivedLog, ReceivedSpan } from '../../../src/receiver/otlp-receiver.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const T0 = 1_700_000_000_000_000_000n;
const ms = (millis: number) => T0 + BigInt(Math.round(millis * 1e6));

function span(
  spanId: string,
  parentSpanId: string,
  name: string,
  from: number,
  to: number,
  extra: Partial<ReceivedSpan> = {},
): ReceivedSpan {
  return {
    traceId: TRACE,
    spanId,
    parentSpanId,
    name,
    kind: parentSpanId ? 1 : 2,
    startNanos: ms(from),
    endNanos: ms(to),
    attributes: {},
    resource: { 'service.name': 'orders' },
    status: { code: 0, message: '' },
    events: [],
    links: [],
    via: 'grpc',
    ...extra,
  };
}

function log(spanId: string, at: number, body: unknown, extra: Partial<ReceivedLog> = {}): ReceivedLog {
  return {
    traceId: TRACE,
    spanId,
    timeNanos: ms(at),
    observedNanos: ms(at),
    severityNumber: 9,
    severityText: 'INFO',
    body,
    attributes: {},
    resource: { 'service.name': 'orders' },
    scope: { name: 'pino', version: '9.14.0' },
    eventName: '',
    droppedAttributesCount: 0,
    flags: 1,
    via: 'grpc',
    ...extra,
  };
}

// GET /checkout (0-100 ms) with two children: charge (10-20 ms) and save (50-60 ms).
const SPANS = [
  span('aaaaaaaaaaaaaaa1', '', 'GET /checkout', 0, 100, { attributes: { 'http.response.status_code': 500 } }),
  span('aaaaaaaaaaaaaaa2', 'aaaaaaaaaaaaaaa1', 'charge', 10, 20),
  span('aaaaaaaaaaaaaaa3', 'aaaaaaaaaaaaaaa1', 'save', 50, 60),
];

const WITHOUT_LOGS = [
  'trace 4bf92f3577b34da6a3ce929d0e0e4736  orders  3 spans  100.0 ms',
  '  GET /checkout  server   ████████████████████████   100.0 ms  500',
  '    charge       internal   ██                        10.0 ms',
  '    save         internal             ██              10.0 ms',
].join('\n');

describe('renderTrace with log records', () => {
  it('renders a trace without log records as it always has', () => {
    assert.equal(renderTrace(SPANS, { colour: false }), WITHOUT_LOGS);
    assert.equal(renderTrace(SPANS, { colour: false }, []), WITHOUT_LOGS);
    assert.equal(renderTrace(SPANS, { colour: true }, []), renderTrace(SPANS, { colour: true }));
  });

  it('puts each record under its span, by time among its children; those of no span in the trace at the end', () => {
    const logs = [
      // Out of order on purpose: the rendering sorts by time.
      log('aaaaaaaaaaaaaaa1', 30, 'charged, saving'),
      log('aaaaaaaaaaaaaaa3', 55, 'saved', { severityText: 'DEBUG', severityNumber: 5 }),
      log('aaaaaaaaaaaaaaa1', 5, 'checkout started'),
      log('aaaaaaaaaaaaaaa1', 10, 'charging'),
      log('aaaaaaaaaaaaaaa1', 95, 'payment declined', { severityText: 'ERROR', severityNumber: 17 }),
      log('ffffffffffffffff', 99, 'from a span that never arrived', { severityText: 'WARN', severityNumber: 13 }),
      log('', 120.25, 'in the trace, in no span'),
    ];
    assert.equal(
      renderTrace(SPANS, { colour: false }, logs),
      [
        'trace 4bf92f3577b34da6a3ce929d0e0e4736  orders  3 spans  100.0 ms  7 logs',
        '  GET /checkout  server   ████████████████████████   100.0 ms  500',
        '    · +5.0 ms  INFO  checkout started',
        '    · +10.0 ms  INFO  charging',
        '    charge       internal   ██                        10.0 ms',
        '    · +30.0 ms  INFO  charged, saving',
        '    save         internal             ██              10.0 ms',
        '      · +55.0 ms  DEBUG  saved',
        '    · +95.0 ms  ERROR  payment declined',
        '  · +99.0 ms  WARN  from a span that never arrived',
        '  · +120.3 ms  INFO  in the trace, in no span',
      ].join('\n'),
    );
  });

  it('colours the severity by its number when colour is on, and only the severity', () => {
    const lines = renderTrace(SPANS, { colour: true }, [
      log('aaaaaaaaaaaaaaa1', 1, 'a', { severityText: 'ERROR', severityNumber: 17 }),
      log('aaaaaaaaaaaaaaa1', 2, 'b', { severityText: 'WARN', severityNumber: 13 }),
      log('aaaaaaaaaaaaaaa1', 3, 'c', { severityText: 'FATAL', severityNumber: 21 }),
      log('aaaaaaaaaaaaaaa1', 4, 'd', { severityText: 'warning', severityNumber: 0 }),
    ])
      .split('\n')
      .filter((line) => line.includes('·'));
    assert.deepEqual(lines, [
      '    · +1.0 ms  \u001b[31mERROR\u001b[0m  a',
      '    · +2.0 ms  \u001b[33mWARN\u001b[0m  b',
      '    · +3.0 ms  \u001b[1;31mFATAL\u001b[0m  c',
      '    · +4.0 ms  \u001b[33mwarning\u001b[0m  d',
    ]);
  });

  it('names the severity by its number when the record has no text, and leaves it out when it has neither', () => {
    const lines = renderTrace(SPANS, { colour: false }, [
      log('aaaaaaaaaaaaaaa1', 1, 'a', { severityText: '', severityNumber: 9 }),
      log('aaaaaaaaaaaaaaa1', 2, 'b', { severityText: '', severityNumber: 10 }),
      log('aaaaaaaaaaaaaaa1', 3, 'c', { severityText: '', severityNumber: 24 }),
      log('aaaaaaaaaaaaaaa1', 4, 'd', { severityText: '', severityNumber: 0 }),
    ])
      .split('\n')
      .filter((line) => line.includes('·'));
    assert.deepEqual(lines, ['    · +1.0 ms  INFO  a', '    · +2.0 ms  INFO2  b', '    · +3.0 ms  FATAL4  c', '    · +4.0 ms  d']);
  });

  it('shows any body on one line: a map or a list as JSON, bytes by their count, long text cut; else the event name', () => {
    const lines = renderTrace(SPANS, { colour: false }, [
      log('aaaaaaaaaaaaaaa1', 1, { order: 42, items: ['a', 'b'], raw: Buffer.from('hi') }),
      log('aaaaaaaaaaaaaaa1', 2, Buffer.from([1, 2, 3])),
      log('aaaaaaaaaaaaaaa1', 3, 'first line\n  second line'),
      log('aaaaaaaaaaaaaaa1', 4, 'x'.repeat(300)),
      log('aaaaaaaaaaaaaaa1', 5, 12.5),
      log('aaaaaaaaaaaaaaa1', 6, false),
      log('aaaaaaaaaaaaaaa1', 7, undefined, { eventName: 'order.placed' }),
      log('aaaaaaaaaaaaaaa1', 8, undefined),
    ])
      .split('\n')
      .filter((line) => line.includes('·'));
    assert.deepEqual(lines, [
      '    · +1.0 ms  INFO  {"order":42,"items":["a","b"],"raw":"aGk="}',
      '    · +2.0 ms  INFO  <3 bytes>',
      '    · +3.0 ms  INFO  first line second line',
      `    · +4.0 ms  INFO  ${'x'.repeat(119)}…`,
      '    · +5.0 ms  INFO  12.5',
      '    · +6.0 ms  INFO  false',
      '    · +7.0 ms  INFO  order.placed',
      '    · +8.0 ms  INFO',
    ]);
  });

  it('places a record by when it was observed when it has no time of its own, and before the trace start with a minus', () => {
    const lines = renderTrace(SPANS, { colour: false }, [
      log('aaaaaaaaaaaaaaa1', 0, 'observed only', { timeNanos: 0n, observedNanos: ms(40) }),
      log('aaaaaaaaaaaaaaa1', -2.5, 'early'),
    ])
      .split('\n')
      .filter((line) => line.includes('·'));
    assert.deepEqual(lines, ['    · -2.5 ms  INFO  early', '    · +40.0 ms  INFO  observed only']);
  });

  it('renders a trace that has only log records so far from the first of them', () => {
    assert.equal(
      renderTrace([], { colour: false }, [log('aaaaaaaaaaaaaaa1', 3, 'second'), log('aaaaaaaaaaaaaaa1', 1, 'first')]),
      ['trace 4bf92f3577b34da6a3ce929d0e0e4736  orders  no spans  2 logs', '  · +0.0 ms  INFO  first', '  · +2.0 ms  INFO  second'].join(
        '\n',
      ),
    );
  });
});

describe('renderLog', () => {
  it('prints a record in no trace as one line: severity, service, body', () => {
    assert.equal(renderLog(log('', 0, 'cache warmed', { traceId: '' }), { colour: false }), 'log  INFO  orders  cache warmed');
    assert.equal(
      renderLog(log('', 0, 'disk full', { traceId: '', severityText: 'ERROR', severityNumber: 17, resource: {} }), { colour: true }),
      '\u001b[2mlog\u001b[0m  \u001b[31mERROR\u001b[0m  unknown service  disk full',
    );
  });

  it('names the trace of a record that came after its trace was printed', () => {
    assert.equal(renderLog(log('aaaaaaaaaaaaaaa1', 0, 'late'), { colour: false }), `log  INFO  orders  late  (trace ${TRACE})`);
  });
});

describe('TraceAssembler with log records', () => {
  /** Polls `holds` every 10 ms; fails after `timeoutMs`. */
  async function until(holds: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!holds()) {
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('keeps the records of a trace with it, sorted by time, and hands records of no trace over at once', async () => {
    const traces: { spans: readonly ReceivedSpan[]; logs: readonly ReceivedLog[] }[] = [];
    const single: ReceivedLog[] = [];
    const assembler = new TraceAssembler((spans, logs) => traces.push({ spans, logs }), {
      quietMillis: 50,
      onLog: (record) => single.push(record),
    });
    try {
      assembler.addLogs([log('aaaaaaaaaaaaaaa1', 30, 'later'), log('', 0, 'traceless', { traceId: '' })]);
      assert.deepEqual(
        single.map((record) => record.body),
        ['traceless'],
      );
      assembler.add(SPANS);
      assembler.addLogs([log('aaaaaaaaaaaaaaa1', 5, 'sooner')]);
      await until(() => traces.length === 1);
      assert.equal(traces[0]?.spans.length, 3);
      assert.deepEqual(
        traces[0]?.logs.map((record) => record.body),
        ['sooner', 'later'],
      );

      // After its trace was handed over, a record goes on its own.
      assembler.addLogs([log('aaaaaaaaaaaaaaa1', 200, 'too late')]);
      assert.deepEqual(
        single.map((record) => record.body),
        ['traceless', 'too late'],
      );
    } finally {
      assembler.close();
    }
  });

  it('lets a trace with only log records wait longer for its spans, as they are sent later', async () => {
    const traces: { spans: readonly ReceivedSpan[]; logs: readonly ReceivedLog[] }[] = [];
    const assembler = new TraceAssembler((spans, logs) => traces.push({ spans, logs }), { quietMillis: 50, logsOnlyQuietMillis: 400 });
    try {
      assembler.addLogs([log('aaaaaaaaaaaaaaa1', 5, 'first')]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(traces.length, 0, 'still waiting: more than quietMillis, less than logsOnlyQuietMillis');
      assembler.add(SPANS);
      await until(() => traces.length === 1);
      assert.deepEqual([traces[0]?.spans.length, traces[0]?.logs.length], [3, 1]);

      const other = 'ffffffffffffffffffffffffffffffff';
      assembler.addLogs([log('aaaaaaaaaaaaaaa1', 5, 'alone', { traceId: other })]);
      await until(() => traces.length === 2);
      assert.deepEqual([traces[1]?.spans.length, traces[1]?.logs[0]?.traceId], [0, other]);
    } finally {
      assembler.close();
    }
  });

  it('hands over a waiting trace with only log records on close', () => {
    const traces: { spans: readonly ReceivedSpan[]; logs: readonly ReceivedLog[] }[] = [];
    const assembler = new TraceAssembler((spans, logs) => traces.push({ spans, logs }));
    assembler.addLogs([log('aaaaaaaaaaaaaaa1', 5, 'first')]);
    assembler.close();
    assert.deepEqual([traces[0]?.spans.length, traces[0]?.logs.length], [0, 1]);
  });
});
