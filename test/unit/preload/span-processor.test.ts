import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as after, setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { ExportThread } from '../../../src/export/thread.js';
import { ERRORED_MILLIS, ThreadSpanProcessor } from '../../../src/preload/span-processor.js';

const BATCH = { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 60_000, exportTimeoutMillis: 30_000 };

function setUp() {
  const thread = { send: () => {} } as unknown as ExportThread;
  const processor = new ThreadSpanProcessor(() => thread, BATCH, 1000);
  const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('test');
  /** A span that records `error` and ends, as an instrumentation does before it throws the error on. */
  const recordAndEnd = (error: Error) => {
    const span = tracer.startSpan('request');
    span.recordException(error);
    span.end();
    return span.spanContext();
  };
  return { processor, recordAndEnd };
}

describe('the span that recorded an error', () => {
  it('is found by the error for the rest of the turn it was recorded in, however long that takes', () => {
    const { processor, recordAndEnd } = setUp();
    const error = new Error('boom in the handler');
    const recorded = recordAndEnd(error);
    const busyUntil = performance.now() + ERRORED_MILLIS + 20;
    while (performance.now() < busyUntil);
    assert.deepEqual(processor.spanThatRecorded(error), recorded);
  });

  it('is found in a later turn for a while: a throw passed on by setImmediate, or after an await in a finally', async () => {
    const { processor, recordAndEnd } = setUp();
    const error = new Error('boom, later');
    const recorded = recordAndEnd(error);
    await nextTurn();
    await after(1);
    assert.deepEqual(processor.spanThatRecorded(error), recorded);
  });

  it('is the last one that recorded it, and no other error finds it', () => {
    const { processor, recordAndEnd } = setUp();
    const error = new Error('boom');
    recordAndEnd(error);
    const last = recordAndEnd(error);
    assert.deepEqual(processor.spanThatRecorded(error), last);
    assert.equal(processor.spanThatRecorded(new Error('another')), undefined);
    assert.equal(processor.spanThatRecorded('boom'), undefined);
  });

  it('is forgotten once its turn has ended and the while has passed: the same error thrown later, outside the request, is not its', async () => {
    const { processor, recordAndEnd } = setUp();
    const error = new Error('shared');
    recordAndEnd(error);
    await after(ERRORED_MILLIS + 20);
    assert.equal(processor.spanThatRecorded(error), undefined);
    const again = recordAndEnd(error);
    assert.deepEqual(processor.spanThatRecorded(error), again);
  });

  it('is forgotten when the loop next wakes for I/O after waiting idle, the turn it was recorded in long over', async () => {
    const { processor, recordAndEnd } = setUp();
    const error = new Error('recorded in an immediate');
    const worker = new Worker(
      'const { parentPort } = require("node:worker_threads"); parentPort.once("message", () => setTimeout(() => parentPort.postMessage(0), 300));',
      { eval: true },
    );
    try {
      await once(worker, 'online');
      const answered = once(worker, 'message');
      setImmediate(() => {
        recordAndEnd(error);
        worker.postMessage('go');
      });
      await answered;
      assert.equal(processor.spanThatRecorded(error), undefined);
    } finally {
      await worker.terminate();
    }
  });

  it("is forgotten all the same while the app's fake timers hold every timer", async () => {
    const { processor, recordAndEnd } = setUp();
    const real = globalThis.setTimeout;
    globalThis.setTimeout = (() => ({ unref() {} })) as unknown as typeof setTimeout;
    const error = new Error('under fake timers');
    try {
      recordAndEnd(error);
    } finally {
      globalThis.setTimeout = real;
    }
    await after(ERRORED_MILLIS + 20);
    assert.equal(processor.spanThatRecorded(error), undefined);
  });

  it('is not looked for on an error whose properties throw', () => {
    const { processor } = setUp();
    const hostile = Object.defineProperty(new Error('x'), 'message', {
      get() {
        throw new Error('no');
      },
    });
    assert.equal(processor.spanThatRecorded(hostile), undefined);
  });
});
