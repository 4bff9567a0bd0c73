import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { LogData, LogRecordData, PinoLineData } from '../../../src/export/log-record.js';
import type { ExportThread } from '../../../src/export/thread.js';
import { type LogsApi, ThreadLoggerProvider } from '../../../src/preload/logs.js';

const SPAN = { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 1 };

function setUp(
  batch = { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 60_000, exportTimeoutMillis: 30_000 },
  { active }: { active?: typeof SPAN } = { active: SPAN },
) {
  const sent: LogData[][] = [];
  let starts = 0;
  const thread = { sendLogs: (records: readonly LogData[]) => sent.push([...records]) } as unknown as ExportThread;
  const api: LogsApi = {
    activeContext: () => ROOT_CONTEXT,
    spanContextOf: (context) => (context === ROOT_CONTEXT ? active : undefined),
    hrTime: (time) => (time === undefined ? [100, 0] : [Number(time) / 1000, 0]),
  };
  const provider = new ThreadLoggerProvider(
    () => {
      starts++;
      return thread;
    },
    batch,
    api,
  );
  return { provider, sent, starts: () => starts };
}

describe('the logger provider', () => {
  it('makes each record plain data in the logging call, with the active span', () => {
    const { provider, sent } = setUp();
    provider.getLogger('@opentelemetry/instrumentation-bunyan', '1.0.0').emit({
      timestamp: 5000,
      severityNumber: 17,
      severityText: 'error',
      body: 'failed',
      // What bunyan hands over: the app's own objects, methods included.
      attributes: { req: { method: 'GET', socket: { destroy() {} } }, count: 2 } as never,
      exception: new TypeError('bad input'),
    });
    provider.handOver();
    const [[record]] = sent as [[LogRecordData]];
    assert.deepEqual(record.time, [5, 0]);
    assert.deepEqual(record.observed, [100, 0]);
    assert.equal(record.body, 'failed');
    assert.deepEqual(record.attributes.req, { method: 'GET', socket: {} });
    assert.equal(record.attributes['exception.type'], 'TypeError');
    assert.deepEqual(record.span, SPAN);
    assert.deepEqual(record.scope, { name: '@opentelemetry/instrumentation-bunyan', version: '1.0.0', schemaUrl: undefined });
    assert.doesNotThrow(() => structuredClone(sent));
  });

  it('gives one logger per name, version and schema, sharing its scope object', () => {
    const { provider } = setUp();
    assert.equal(provider.getLogger('a', '1'), provider.getLogger('a', '1'));
    assert.notEqual(provider.getLogger('a', '1'), provider.getLogger('a', '2'));
  });

  it('hands records over in batches of maxExportBatchSize, starting the export thread with the first', () => {
    const { provider, sent, starts } = setUp({
      maxQueueSize: 10,
      maxExportBatchSize: 2,
      scheduledDelayMillis: 60_000,
      exportTimeoutMillis: 1,
    });
    const logger = provider.getLogger('l');
    assert.equal(starts(), 0, 'no thread before a record');
    for (let i = 0; i < 5; i++) logger.emit({ body: `r${i}` });
    assert.deepEqual(
      sent.map((batch) => batch.map((record) => (record as LogRecordData).body)),
      [
        ['r0', 'r1'],
        ['r2', 'r3'],
      ],
    );
    provider.handOver();
    assert.equal(sent.length, 3);
  });

  it('does not keep the process alive while records wait for the delay', () => {
    const { provider } = setUp({ maxQueueSize: 10, maxExportBatchSize: 10, scheduledDelayMillis: 60_000, exportTimeoutMillis: 1 });
    const active = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    provider.getLogger('l').emit({ body: 'waiting' });
    assert.equal(process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length, active);
    provider.handOver();
  });

  it('writes one FATAL record for the error the process dies of, in the trace it interrupted', () => {
    const { provider, sent } = setUp();
    provider.recordCrash(new RangeError('out of range'), ROOT_CONTEXT);
    provider.handOver();
    const [[record]] = sent as [[LogRecordData]];
    assert.equal(record.severityNumber, 21);
    assert.equal(record.severityText, 'FATAL');
    assert.equal(record.body, 'the process ends: uncaught RangeError: out of range');
    assert.equal(record.attributes['exception.message'], 'out of range');
    assert.deepEqual(record.span, SPAN);
    assert.deepEqual(record.scope, { name: '@rustok/otel' });
  });

  it("hands a pino line over as written, with pino's level and the active span, the logger's facts shared", () => {
    const { provider, sent } = setUp();
    const lines = provider.pinoLines({
      instrumentationName: '@opentelemetry/instrumentation-pino',
      instrumentationVersion: '0.5',
    } as never);
    const send = lines({ messageKey: 'msg', errorKey: 'err', time: 'ms' }, { 30: 'info' });
    const before = Date.now();
    send('{"msg":"hi"}\n', 30);
    send('{"msg":"there"}\n', 40);
    provider.handOver();
    const [[first, second]] = sent as [[PinoLineData, PinoLineData]];
    const [line, level, observed, traceId, spanId, traceFlags, logger] = first;
    assert.deepEqual([line, level, traceId, spanId, traceFlags], ['{"msg":"hi"}\n', 30, SPAN.traceId, SPAN.spanId, 1]);
    assert.ok(observed >= before && observed <= Date.now());
    assert.deepEqual(logger, {
      scope: { name: '@opentelemetry/instrumentation-pino', version: '0.5' },
      format: { messageKey: 'msg', errorKey: 'err', time: 'ms' },
      levelNames: { 30: 'info' },
    });
    assert.equal(second[6], logger, 'one object for every line of a logger');
    assert.equal(second[1], 40);
  });

  it('hands a pino line over with an empty trace id when no span is active', () => {
    const { provider, sent } = setUp(undefined, {});
    const send = provider.pinoLines({ instrumentationName: 'pino' } as never)({ messageKey: 'msg', errorKey: 'err', time: 'ms' }, {});
    send('{}\n', 30);
    provider.handOver();
    const [[record]] = sent as [[PinoLineData]];
    assert.deepEqual(record.slice(3, 6), ['', '', 0]);
  });
});
