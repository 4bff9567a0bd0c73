import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { ExportThread } from '../../../src/export/thread.js';
import { ThreadSpanProcessor } from '../../../src/preload/span-processor.js';

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
  it('is found by the error while its throw is still on its way up, however long that takes', () => {
    const { processor, recordAndEnd } = setUp();
    const error = new Error('boom in the handler');
    const recorded = recordAndEnd(error);
    const busyUntil = performance.now() + 50;
    while (performance.now() < busyUntil);
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

  it('is forgotten once the event loop turns: the same error thrown later, outside the request, is not its', async () => {
    const { processor, recordAndEnd } = setUp();
    const error = new Error('shared');
    recordAndEnd(error);
    await nextTurn();
    assert.equal(processor.spanThatRecorded(error), undefined);
    const again = recordAndEnd(error);
    assert.deepEqual(processor.spanThatRecorded(error), again);
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
