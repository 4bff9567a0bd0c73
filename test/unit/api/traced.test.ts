import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, beforeEach, describe, it } from 'node:test';
import { context, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { isTracingSuppressed } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { setAttributes, traced, untraced } from '../../../src/api/traced.js';
import { assertFailed } from '../../helpers/spans.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

before(() => {
  contextManager.enable();
  assert.ok(context.setGlobalContextManager(contextManager), 'the global context manager is registered');
  assert.ok(trace.setGlobalTracerProvider(provider), 'the global tracer provider is registered');
});
after(async () => {
  trace.disable();
  context.disable();
  await provider.shutdown();
});
beforeEach(() => exporter.reset());

const finished = () => exporter.getFinishedSpans();

/** The one span exported so far. */
function onlySpan(): ReadableSpan {
  const spans = finished();
  assert.equal(spans.length, 1, `exactly one span was exported, got ${spans.map((span) => span.name).join(', ') || 'none'}`);
  return spans[0]!;
}

/** Wraps `span.end` so the test can count how many times `traced` calls it. */
function countEnds(span: Span): { count: number } {
  const ends = { count: 0 };
  const end = span.end.bind(span);
  span.end = (...args) => {
    ends.count++;
    end(...args);
  };
  return ends;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets queued promise reactions (and the span processor's export) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('traced() with a synchronous fn', () => {
  it('returns what fn returns and exports one ended span with the name and the attributes', () => {
    const result = traced('sync.work', () => 42, { 'app.user': 'ann', 'app.count': 3 });

    assert.equal(result, 42);
    const span = onlySpan();
    assert.equal(span.name, 'sync.work');
    assert.deepEqual(span.attributes, { 'app.user': 'ann', 'app.count': 3 });
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.equal(span.ended, true);
    assert.deepEqual(span.events, []);
  });

  it('passes fn the span it is running in, ending it once fn returns', () => {
    let ends: { count: number } | undefined;
    const returned = { some: 'object' };

    const result = traced('sync.span', (span) => {
      ends = countEnds(span);
      assert.equal(finished().length, 0, 'the span is not exported while fn runs');
      return returned;
    });

    assert.equal(result, returned);
    assert.equal(ends?.count, 1);
    onlySpan();
  });

  it('exports a span without attributes when none are given', () => {
    traced('no.attributes', () => undefined);

    assert.deepEqual(onlySpan().attributes, {});
  });
});

describe('traced() with an async fn', () => {
  it('returns a promise of what fn resolves to, and ends the span only after that promise settles', async () => {
    const work = deferred<string>();
    let ends: { count: number } | undefined;

    const result = traced('async.work', (span) => {
      ends = countEnds(span);
      return work.promise;
    });

    assert.ok(result instanceof Promise);
    await settle();
    assert.equal(finished().length, 0, 'the span is still open while the promise is pending');
    assert.equal(ends?.count, 0);

    work.resolve('done');
    assert.equal(await result, 'done');
    await settle();
    const span = onlySpan();
    assert.equal(span.name, 'async.work');
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.equal(span.ended, true);
    assert.equal(ends?.count, 1);
  });

  it('works with an async function that awaits before returning', async () => {
    const result = await traced(
      'async.fn',
      async () => {
        await settle();
        return [1, 2, 3];
      },
      { 'app.kind': 'list' },
    );

    assert.deepEqual(result, [1, 2, 3]);
    const span = onlySpan();
    assert.equal(span.name, 'async.fn');
    assert.deepEqual(span.attributes, { 'app.kind': 'list' });
  });
});

describe('the span made by traced()', () => {
  it('is the active span inside fn, and only there', () => {
    assert.equal(trace.getActiveSpan(), undefined);
    let passed: Span | undefined;
    let active: Span | undefined;

    traced('outer', (span) => {
      passed = span;
      active = trace.getActiveSpan();
    });

    assert.ok(passed);
    assert.equal(active, passed);
    assert.equal(trace.getActiveSpan(), undefined);
  });

  it('stays active across awaits inside an async fn', async () => {
    let passed: Span | undefined;
    let activeAfterAwait: Span | undefined;

    await traced('outer.async', async (span) => {
      passed = span;
      await settle();
      activeAfterAwait = trace.getActiveSpan();
    });

    assert.ok(passed);
    assert.equal(activeAfterAwait, passed);
  });

  it('is the parent of a span made by a nested traced() call', () => {
    traced('outer', () => traced('inner', () => 'nested'));

    const spans = finished();
    assert.deepEqual(
      spans.map((span) => span.name),
      ['inner', 'outer'],
    );
    const [inner, outer] = spans as [ReadableSpan, ReadableSpan];
    assert.equal(inner.spanContext().traceId, outer.spanContext().traceId);
    assert.equal(inner.parentSpanContext?.spanId, outer.spanContext().spanId);
    assert.equal(outer.parentSpanContext, undefined, 'the outer span is a root span');
  });

  it('is the parent of a span made by a nested traced() call after an await', async () => {
    await traced('outer.async', async () => {
      await settle();
      await traced('inner.async', async () => settle());
    });

    const outer = finished().find((span) => span.name === 'outer.async');
    const inner = finished().find((span) => span.name === 'inner.async');
    assert.ok(outer && inner);
    assert.equal(inner.spanContext().traceId, outer.spanContext().traceId);
    assert.equal(inner.parentSpanContext?.spanId, outer.spanContext().spanId);
  });

  it('makes sibling traced() calls separate root spans with different traces', () => {
    traced('first', () => undefined);
    traced('second', () => undefined);

    const [first, second] = finished() as [ReadableSpan, ReadableSpan];
    assert.notEqual(first.spanContext().traceId, second.spanContext().traceId);
    assert.equal(first.parentSpanContext, undefined);
    assert.equal(second.parentSpanContext, undefined);
  });
});

describe('traced() when fn throws', () => {
  it('rethrows the very same error object and records it on the span, which ends exactly once', () => {
    const error = new TypeError('bad input');
    let ends: { count: number } | undefined;

    assert.throws(
      () =>
        traced('sync.fail', (span) => {
          ends = countEnds(span);
          throw error;
        }),
      (thrown) => thrown === error,
    );

    const span = onlySpan();
    assertFailed(span, 'bad input');
    const exception = span.events[0]!;
    assert.equal(exception.attributes?.['exception.type'], 'TypeError');
    assert.equal(typeof exception.attributes?.['exception.stacktrace'], 'string');
    assert.equal(ends?.count, 1);
  });

  it('rethrows a thrown string unchanged and records it on the span', () => {
    assert.throws(
      () =>
        traced('sync.fail.string', () => {
          throw 'plain string failure';
        }),
      (thrown) => thrown === 'plain string failure',
    );

    assertFailed(onlySpan(), 'plain string failure');
  });

  it('rethrows a thrown non-Error object unchanged', () => {
    const thrown = { code: 'E_CUSTOM' };

    assert.throws(
      () =>
        traced('sync.fail.object', () => {
          throw thrown;
        }),
      (caught) => caught === thrown,
    );

    const span = onlySpan();
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.equal(span.status.message, '[object Object]');
    assert.equal(span.ended, true);
  });
});

describe('traced() when the promise fn returns rejects', () => {
  it('rejects with the very same error object and records it on the span, which ends exactly once', async () => {
    const error = new RangeError('out of range');
    const work = deferred<number>();
    let ends: { count: number } | undefined;

    const result = traced('async.fail', (span) => {
      ends = countEnds(span);
      return work.promise;
    });
    await settle();
    assert.equal(finished().length, 0, 'the span is still open while the promise is pending');

    work.reject(error);
    await assert.rejects(result, (rejected) => rejected === error);
    await settle();

    const span = onlySpan();
    assertFailed(span, 'out of range');
    assert.equal(span.events[0]!.attributes?.['exception.type'], 'RangeError');
    assert.equal(ends?.count, 1);
  });

  it('rejects with a string reason unchanged and records it on the span', async () => {
    await assert.rejects(
      traced('async.fail.string', async () => {
        await settle();
        throw 'async string failure';
      }),
      (rejected) => rejected === 'async string failure',
    );
    await settle();

    assertFailed(onlySpan(), 'async string failure');
  });
});

describe('traced() when fn returns a thenable that is not a native Promise', () => {
  /** A minimal PromiseLike whose work finishes only when `finish` is called. */
  function customThenable<T>() {
    const work = deferred<T>();
    // biome-ignore lint/suspicious/noThenProperty: the point of this test is a thenable that is not a Promise.
    const thenable: PromiseLike<T> = { then: (onFulfilled, onRejected) => work.promise.then(onFulfilled, onRejected) };
    return { thenable, finish: work.resolve };
  }

  it('returns the thenable itself (it is not treated as async)', async () => {
    const { thenable, finish } = customThenable<string>();

    const result = traced('thenable.returned', () => thenable);

    assert.equal(result, thenable);
    finish('value');
    assert.equal(await result, 'value');
  });

  it('never calls then() on it, since a query builder runs its query on then(), and ends the span on return', async () => {
    let thenCalls = 0;
    const builder = {
      // biome-ignore lint/suspicious/noThenProperty: a query-builder-like thenable is the point of this test.
      then: (resolve: (value: string) => void) => {
        thenCalls++;
        resolve('rows');
      },
    };

    const result = traced('query.built', () => builder);

    assert.equal(thenCalls, 0, 'building is not running');
    assert.equal(onlySpan().ended, true);
    assert.equal(await result, 'rows');
    assert.equal(thenCalls, 1, 'the query ran once, when the caller awaited it');
  });
});

describe('setAttributes()', () => {
  it('adds the attributes to the span active where it is called', async () => {
    traced(
      'with.attributes',
      () => {
        setAttributes({ 'app.step': 'one', 'app.retries': 2 });
      },
      { 'app.initial': true },
    );

    assert.deepEqual(onlySpan().attributes, { 'app.initial': true, 'app.step': 'one', 'app.retries': 2 });
  });

  it('adds the attributes to the innermost active span only', () => {
    traced('outer', () => {
      traced('inner', () => setAttributes({ 'app.where': 'inner' }));
    });

    const inner = finished().find((span) => span.name === 'inner');
    const outer = finished().find((span) => span.name === 'outer');
    assert.deepEqual(inner?.attributes, { 'app.where': 'inner' });
    assert.deepEqual(outer?.attributes, {});
  });

  it('adds the attributes after an await inside an async fn', async () => {
    await traced('async.attributes', async () => {
      await settle();
      setAttributes({ 'app.after': 'await' });
    });

    assert.deepEqual(onlySpan().attributes, { 'app.after': 'await' });
  });

  it('does nothing, and does not throw, outside any span', () => {
    assert.equal(trace.getActiveSpan(), undefined);
    assert.doesNotThrow(() => setAttributes({ 'app.nowhere': 1 }));
    assert.equal(finished().length, 0);
  });
});

// Last: this turns tracing off for the rest of the process.
describe('untraced()', () => {
  it('returns what fn returns and records no span for anything inside, however deep', async () => {
    const value = await untraced(async () => {
      traced('inside.sync', () => {});
      await traced('inside.async', async () => traced('deeper', () => {}));
      return 'done';
    });

    assert.equal(value, 'done');
    assert.deepEqual(finished(), []);
  });

  it('sets the key @opentelemetry/core reads, which every instrumentation checks', () => {
    assert.equal(
      untraced(() => isTracingSuppressed(context.active())),
      true,
    );
    assert.equal(isTracingSuppressed(context.active()), false);
  });

  it('leaves tracing on after it, including in the caller after an await', async () => {
    await untraced(async () => traced('hidden', async () => {}));
    traced('visible', () => {});

    assert.deepEqual(
      finished().map((span) => span.name),
      ['visible'],
    );
  });
});

describe('with no tracer provider registered', () => {
  before(() => trace.disable());

  it('returns what a synchronous fn returns, passing fn a non-recording span', () => {
    let recording: boolean | undefined;

    const result = traced(
      'off.sync',
      (span) => {
        recording = span.isRecording();
        setAttributes({ 'app.ignored': true });
        return 'still works';
      },
      { 'app.ignored': true },
    );

    assert.equal(result, 'still works');
    assert.equal(recording, false);
    assert.equal(finished().length, 0);
  });

  it('resolves to what an async fn resolves to', async () => {
    assert.equal(await traced('off.async', async () => 7), 7);
    assert.equal(finished().length, 0);
  });

  it('still rethrows the very same error', () => {
    const error = new Error('off but failing');

    assert.throws(
      () =>
        traced('off.fail', () => {
          throw error;
        }),
      (thrown) => thrown === error,
    );
  });

  it('still rejects with the very same error', async () => {
    const error = new Error('off but rejecting');

    await assert.rejects(
      traced('off.reject', async () => {
        throw error;
      }),
      (rejected) => rejected === error,
    );
  });

  it('works in a process that never registered any OpenTelemetry SDK', () => {
    const script = `
      import { setAttributes, traced } from ${JSON.stringify(new URL('../../../src/api/traced.ts', import.meta.url).href)};
      setAttributes({ outside: true });
      const sync = traced('fresh.sync', (span) => { setAttributes({ inside: true }); return span.isRecording() ? 'recording' : 'no-op'; });
      const value = await traced('fresh.async', async () => 'async');
      console.log(JSON.stringify({ sync, value }));
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });

    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), { sync: 'no-op', value: 'async' });
  });
});
