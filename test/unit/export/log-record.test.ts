import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  exceptionAttributes,
  fromLogData,
  fromPinoLine,
  logDataSize,
  MAX_ATTRIBUTES,
  type PinoFormat,
  type PinoLogger,
  pinoSeverityNumber,
  ScopeTable,
  toAnyValue,
  toAttributes,
} from '../../../src/export/log-record.js';

describe('toAnyValue', () => {
  it('keeps what OTLP carries and a structured clone copies', () => {
    assert.deepEqual(toAnyValue({ s: 'a', n: 1.5, b: false, nil: null, list: [1, 'x'], nested: { deep: true } }), {
      s: 'a',
      n: 1.5,
      b: false,
      nil: null,
      list: [1, 'x'],
      nested: { deep: true },
    });
    assert.deepEqual(toAnyValue(Buffer.from('hi')), new Uint8Array([104, 105]));
  });

  it('turns what it cannot carry into text or leaves it out', () => {
    class Request {
      method = 'GET';
      handler = () => {};
    }
    assert.deepEqual(
      toAnyValue({
        fn: () => {},
        symbol: Symbol('s'),
        undefined: undefined,
        big: 10n,
        infinite: Number.POSITIVE_INFINITY,
        date: new Date(0),
        error: new TypeError('bad'),
        request: new Request(),
      }),
      { big: '10', infinite: 'Infinity', date: '1970-01-01T00:00:00.000Z', error: 'TypeError: bad', request: { method: 'GET' } },
    );
  });

  it('cuts cycles and depth, keeps an object seen twice side by side', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    assert.deepEqual(toAnyValue(cyclic), { name: 'loop', self: '[Object]' });
    const shared = { v: 1 };
    assert.deepEqual(toAnyValue({ a: shared, b: shared }), { a: { v: 1 }, b: { v: 1 } });
    let deep: unknown = 'bottom';
    for (let i = 0; i < 12; i++) deep = { d: deep };
    assert.match(JSON.stringify(toAnyValue(deep)), /"\[Object\]"/);
  });

  it('does not throw for a getter that throws', () => {
    const hostile = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    assert.equal(toAnyValue(hostile), '[Object]');
  });

  it('copies nothing a structured clone would refuse', () => {
    const value = toAnyValue({ fn: () => {}, nested: [{ symbol: Symbol('x'), date: new Date(0) }] });
    assert.doesNotThrow(() => structuredClone(value));
  });
});

describe('toAttributes', () => {
  it('keeps at most MAX_ATTRIBUTES and counts the rest as dropped', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_ATTRIBUTES + 5 }, (_, i) => [`k${i}`, i]));
    const { attributes, dropped } = toAttributes(many);
    assert.equal(Object.keys(attributes).length, MAX_ATTRIBUTES);
    assert.equal(dropped, 5);
  });

  it('leaves out what has no value, without counting it', () => {
    assert.deepEqual(toAttributes({ fn: () => {}, kept: 1 }), { attributes: { kept: 1 }, dropped: 0 });
    assert.deepEqual(toAttributes(undefined), { attributes: {}, dropped: 0 });
  });
});

describe('exceptionAttributes', () => {
  it('names an Error by its code, else its name, as the semantic conventions say', () => {
    const error = Object.assign(new Error('gone'), { code: 'ENOENT' });
    assert.deepEqual(exceptionAttributes(error), {
      'exception.type': 'ENOENT',
      'exception.message': 'gone',
      'exception.stacktrace': error.stack,
    });
    assert.equal(exceptionAttributes(new RangeError('x'))['exception.type'], 'RangeError');
  });

  it("reads pino's serialised error, whose name is `type`", () => {
    assert.deepEqual(exceptionAttributes({ type: 'Error', message: 'm', stack: 'Error: m\n  at x' }), {
      'exception.type': 'Error',
      'exception.message': 'm',
      'exception.stacktrace': 'Error: m\n  at x',
    });
  });

  it('takes a string as the message, and nothing from other values', () => {
    assert.deepEqual(exceptionAttributes('failed'), { 'exception.message': 'failed' });
    assert.deepEqual(exceptionAttributes(42), {});
  });
});

describe('pino lines', () => {
  const resource = resourceFromAttributes({});
  const logger = (format: Partial<PinoFormat> = {}): PinoLogger => ({
    scope: { name: '@opentelemetry/instrumentation-pino', version: '1' },
    format: { messageKey: 'msg', errorKey: 'err', time: 'ms', ...format },
    levelNames: { 30: 'info' },
  });
  const read = (fields: object | string, format: Partial<PinoFormat> = {}) =>
    fromPinoLine(
      [typeof fields === 'string' ? fields : `${JSON.stringify(fields)}\n`, 30, 1000, '', '', 0, logger(format)],
      resource,
      new ScopeTable(),
    );

  it('maps the standard levels to their severities and spreads the others between them', () => {
    assert.deepEqual([10, 20, 30, 40, 50, 60].map(pinoSeverityNumber), [1, 5, 9, 13, 17, 21]);
    assert.equal(pinoSeverityNumber(35), 11);
    assert.equal(pinoSeverityNumber(0), 2);
    assert.equal(pinoSeverityNumber(100), 24);
  });

  it('makes the message the body and the other fields attributes, without the fields OTLP has elsewhere', () => {
    const record = read({
      level: 30,
      time: 1_700_000_000_123,
      pid: 1,
      hostname: 'h',
      trace_id: 't',
      span_id: 's',
      trace_flags: '01',
      msg: 'hello',
      user: { id: 7 },
    });
    assert.equal(record.body, 'hello');
    assert.deepEqual(record.attributes, { user: { id: 7 } });
    assert.deepEqual(record.hrTime, [1_700_000_000, 123_000_000]);
    assert.deepEqual(record.hrTimeObserved, [1, 0]);
    assert.equal(record.spanContext, undefined);
    assert.equal(record.severityNumber, 9);
    assert.equal(record.severityText, 'info');
  });

  it('reads the time as the logger writes it, and keeps one it cannot read as an attribute', () => {
    const at = (time: unknown, format: PinoFormat['time']) => read({ time, msg: 'm' }, { time: format });
    assert.deepEqual(at(1_700_000_000, 's').hrTime, [1_700_000_000, 0]);
    assert.deepEqual(at('2023-11-14T22:13:20.500Z', 'iso').hrTime, [1_700_000_000, 500_000_000]);
    const custom = at('yesterday', 'other');
    assert.deepEqual(custom.hrTime, [1, 0]);
    assert.equal(custom.attributes.time, 'yesterday');
  });

  it('turns the error field into exception attributes and honours custom keys and event names', () => {
    const record = read(
      { message: 'failed', error: { type: 'TypeError', message: 'x', stack: 'TypeError: x' }, 'otel.event.name': 'checkout' },
      { messageKey: 'message', errorKey: 'error' },
    );
    assert.equal(record.body, 'failed');
    assert.equal(record.eventName, 'checkout');
    assert.equal(record.attributes['exception.type'], 'TypeError');
    assert.equal(record.attributes.error, undefined);
  });

  it('keeps a line that is no JSON as the body', () => {
    assert.equal(read('not json\n').body, 'not json');
  });

  it('carries the span that was active, and one scope object per logger scope', () => {
    const scopes = new ScopeTable();
    const one = logger();
    const [first, second] = [1, 2].map((i) =>
      fromPinoLine([`{"msg":"${i}"}\n`, 30, 1000, 'a'.repeat(32), 'b'.repeat(16), 1, one], resource, scopes),
    );
    assert.deepEqual(first?.spanContext, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1, isRemote: false });
    assert.equal(first?.instrumentationScope, second?.instrumentationScope);
  });
});

describe('fromLogData', () => {
  it('gives records of one scope the same scope object, as the OTLP serialiser groups by it', () => {
    const scopes = new ScopeTable();
    const resource = resourceFromAttributes({});
    const record = (name: string) =>
      fromLogData(
        {
          time: [1, 0],
          observed: [1, 0],
          attributes: {},
          droppedAttributes: 0,
          scope: { name, version: '1' },
          span: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 },
        },
        resource,
        scopes,
      );
    const [first, second, other] = [record('pino'), record('pino'), record('winston')];
    assert.equal(first.instrumentationScope, second.instrumentationScope);
    assert.notEqual(first.instrumentationScope, other.instrumentationScope);
    assert.deepEqual(first.spanContext, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1, isRemote: false });
  });
});

describe('logDataSize', () => {
  it('counts strings in UTF-8, as a collector counts its message limit', () => {
    const logger = { scope: { name: 'pino' }, format: { messageKey: 'msg', errorKey: 'err', time: 'ms' as const }, levelNames: {} };
    const line = (text: string) => logDataSize([text, 30, 0, '', '', 0, logger]);
    assert.equal(line('日本語'.repeat(100)) - line('a'.repeat(300)), 600, 'three bytes a character, not one');
    const record = (body: string) =>
      logDataSize({ time: [0, 0], observed: [0, 0], body, attributes: {}, droppedAttributes: 0, scope: { name: 'w' } });
    assert.equal(record('é') - record('e'), 1);
  });
});
