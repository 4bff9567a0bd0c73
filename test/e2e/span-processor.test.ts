import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Span as ApiSpan, context, trace } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
} from '@opentelemetry/sdk-trace-base';
import type { Config } from '../../src/config/types.js';
import { type SpanRecord, toRecord } from '../../src/export/span-record.js';
import type { ExportThread } from '../../src/export/thread.js';
import { ThreadSpanProcessor } from '../../src/preload/span-processor.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TIMEOUT = 1234;
/** Big enough that nothing is handed over by size or by time unless a test asks for it. */
const BATCH: Config['traces']['batch'] = {
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 60_000,
  exportTimeoutMillis: 30_000,
};

type Call =
  | { readonly method: 'send'; readonly records: readonly SpanRecord[] }
  | { readonly method: 'flushSync' | 'flush'; readonly timeoutMillis: number };

/** An export thread that only records what it is asked to do. */
function fakeThread() {
  const calls: Call[] = [];
  const sent = () => calls.filter((call) => call.method === 'send').length;
  const onSend: (() => void)[] = [];
  let starts = 0;
  const thread: ExportThread = {
    send(records) {
      calls.push({ method: 'send', records: [...records] });
      for (const wake of [...onSend]) wake();
    },
    sendMetrics() {
      assert.fail('the span processor sends no metrics');
    },
    sendLogs() {
      assert.fail('the span processor sends no logs');
    },
    flushSync(timeoutMillis) {
      calls.push({ method: 'flushSync', timeoutMillis });
    },
    flush(timeoutMillis) {
      calls.push({ method: 'flush', timeoutMillis });
      return Promise.resolve();
    },
  };
  return {
    calls,
    start: () => {
      starts++;
      return thread;
    },
    get starts() {
      return starts;
    },
    get sends(): (readonly SpanRecord[])[] {
      return calls.flatMap((call) => (call.method === 'send' ? [call.records] : []));
    },
    /** Resolves once `count` batches have been handed over; rejects after `timeoutMs`, saying how many were. */
    handedOver(count: number, timeoutMs = 5_000): Promise<void> {
      if (sent() >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const wake = () => {
          if (sent() < count) return;
          clearTimeout(timer);
          onSend.splice(onSend.indexOf(wake), 1);
          resolve();
        };
        const timer = setTimeout(() => {
          onSend.splice(onSend.indexOf(wake), 1);
          reject(new Error(`${count} batches handed over within ${timeoutMs} ms expected; there were ${sent()}`));
        }, timeoutMs);
        onSend.push(wake);
      });
    },
  };
}

/** Records the span but leaves its sampled flag unset. */
const recordOnlySampler: Sampler = {
  shouldSample: () => ({ decision: SamplingDecision.RECORD }),
  toString: () => 'RecordOnlySampler',
};

function setup(batch: Partial<Config['traces']['batch']> = {}, sampler: Sampler = new AlwaysOnSampler()) {
  const thread = fakeThread();
  const processor = new ThreadSpanProcessor(thread.start, { ...BATCH, ...batch }, TIMEOUT);
  const provider = new BasicTracerProvider({ sampler, spanProcessors: [processor] });
  const tracer = provider.getTracer('processor-test');
  const childOf = (parent: ApiSpan, name = 'child') => tracer.startSpan(name, {}, trace.setSpan(context.active(), parent));
  return { thread, processor, tracer, childOf };
}

const readable = (span: ApiSpan) => span as unknown as ReadableSpan;
const summary = (records: readonly SpanRecord[]) => records.map((record) => ({ name: record.name, spanId: record.context.spanId }));

describe('ThreadSpanProcessor: starting the export thread', () => {
  it('does not start the thread before the first sampled span ends, and starts it exactly once', () => {
    const { thread, tracer } = setup();
    const first = tracer.startSpan('first');
    const second = tracer.startSpan('second');
    assert.equal(thread.starts, 0, 'starting spans does not start the thread');
    first.end();
    assert.equal(thread.starts, 1, 'the first ended span starts the thread');
    second.end();
    tracer.startSpan('third').end();
    assert.equal(thread.starts, 1, 'later spans reuse the same thread');
  });

  it('never hands over a span dropped by the sampler, nor starts the thread for it', () => {
    const { thread, processor, tracer } = setup({ maxExportBatchSize: 1 }, new AlwaysOffSampler());
    const span = tracer.startSpan('unsampled');
    assert.equal(span.isRecording(), false);
    span.end();
    processor.flushSync();
    assert.equal(thread.starts, 0);
    assert.deepEqual(thread.calls, []);
  });

  it('never hands over a recorded span whose trace flags lack the sampled bit, nor starts the thread for it', async () => {
    const { thread, processor, tracer } = setup({ maxExportBatchSize: 1 }, recordOnlySampler);
    const span = tracer.startSpan('recorded, not sampled');
    assert.equal(span.isRecording(), true, 'the processor does see this span');
    assert.equal(span.spanContext().traceFlags & 1, 0);
    span.end();
    processor.flushSync();
    await processor.forceFlush();
    assert.equal(thread.starts, 0);
    assert.deepEqual(thread.calls, []);
  });
});

describe('ThreadSpanProcessor: handing spans over', () => {
  it('hands over ended spans as one batch of plain records, in end order, once maxExportBatchSize is reached', () => {
    const { thread, tracer } = setup({ maxExportBatchSize: 3 });
    const [a, b, c] = ['a', 'b', 'c'].map((name) => tracer.startSpan(name)) as [ApiSpan, ApiSpan, ApiSpan];
    b.end();
    c.end();
    assert.equal(thread.sends.length, 0, 'nothing is handed over below the batch size');
    a.end();
    assert.equal(thread.sends.length, 1);
    const [records] = thread.sends as [readonly SpanRecord[]];
    assert.deepEqual(
      summary(records),
      [b, c, a].map((span) => ({ name: readable(span).name, spanId: span.spanContext().spanId })),
    );
    assert.deepEqual(records[0], toRecord(readable(b)), 'the record is the one toRecord makes');
    for (const record of records) assert.equal(Object.getPrototypeOf(record), Object.prototype, 'records are plain objects');
    assert.deepEqual(structuredClone(records), records, 'records survive postMessage unchanged');
  });

  it('starts a new batch after one is handed over', () => {
    const { thread, tracer } = setup({ maxExportBatchSize: 2 });
    for (const name of ['1', '2', '3', '4', '5']) tracer.startSpan(name).end();
    assert.deepEqual(
      thread.sends.map((records) => records.map((record) => record.name)),
      [
        ['1', '2'],
        ['3', '4'],
      ],
    );
  });

  it('hands over fewer spans than a batch once scheduledDelayMillis has passed', async () => {
    const { thread, tracer } = setup({ maxExportBatchSize: 10, scheduledDelayMillis: 20 });
    tracer.startSpan('one').end();
    tracer.startSpan('two').end();
    assert.equal(thread.sends.length, 0, 'nothing is handed over before the delay');
    // Nothing else hands them over: the delay's timer does, whenever the machine lets it run.
    await thread.handedOver(1);
    assert.deepEqual(
      thread.sends.map((records) => records.map((record) => record.name)),
      [['one', 'two']],
    );
  });

  it('does not keep the process alive while spans wait for the delay', async () => {
    // A process whose only pending work is the processor's timer must exit long before the delay.
    const script = `
      import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
      import { ThreadSpanProcessor } from './src/preload/span-processor.ts';
      const thread = { send() { console.log('sent'); }, flushSync() {}, flush: () => Promise.resolve() };
      const batch = { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 60000, exportTimeoutMillis: 30000 };
      const provider = new BasicTracerProvider({ spanProcessors: [new ThreadSpanProcessor(() => thread, batch, 1000)] });
      provider.getTracer('t').startSpan('waiting').end();
      console.log('ended');
    `;
    // Were the timer ref'd, the child would wait the full minute and be killed after 10 s.
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '--eval', script],
        { cwd: ROOT, timeout: 10_000 },
        (error, stdout, stderr) =>
          error?.killed
            ? reject(
                new Error(`the child did not exit within 10 s: the processor's timer keeps it alive\nstdout: ${stdout}\nstderr: ${stderr}`),
              )
            : error
              ? reject(Object.assign(error, { stderr }))
              : resolve({ stdout }),
      ),
    );
    assert.equal(stdout.trim(), 'ended', 'the span was buffered and never handed over');
  });
});

describe('ThreadSpanProcessor: flushing', () => {
  it('flushSync hands over what is buffered, then waits for the thread with the processor timeout', async () => {
    const { thread, processor, tracer } = setup({ scheduledDelayMillis: 20 });
    const span = tracer.startSpan('buffered');
    span.end();
    processor.flushSync();
    assert.deepEqual(thread.calls, [
      { method: 'send', records: [toRecord(readable(span))] },
      { method: 'flushSync', timeoutMillis: TIMEOUT },
    ]);
    // A span ended after the flush goes out by the delay's timer: once it has, the flushed span's pending delay has passed too.
    tracer.startSpan('after').end();
    await thread.handedOver(2);
    assert.deepEqual(
      thread.sends.map((records) => records.map((record) => record.name)),
      [['buffered'], ['after']],
      'the pending delay does not hand the spans over again',
    );
  });

  it('flushSync with an empty buffer only waits for the thread', () => {
    const { thread, processor, tracer } = setup({ maxExportBatchSize: 1 });
    tracer.startSpan('sent at once').end();
    processor.flushSync();
    assert.deepEqual(
      thread.calls.map((call) => call.method),
      ['send', 'flushSync'],
    );
  });

  it('forceFlush hands over what is buffered, then waits for the thread through flush', async () => {
    const { thread, processor, tracer } = setup();
    const span = tracer.startSpan('buffered');
    span.end();
    await processor.forceFlush();
    assert.deepEqual(thread.calls, [
      { method: 'send', records: [toRecord(readable(span))] },
      { method: 'flush', timeoutMillis: TIMEOUT },
    ]);
  });

  it('shutdown flushes like forceFlush', async () => {
    const { thread, processor, tracer } = setup();
    const span = tracer.startSpan('buffered');
    span.end();
    await processor.shutdown();
    assert.deepEqual(thread.calls, [
      { method: 'send', records: [toRecord(readable(span))] },
      { method: 'flush', timeoutMillis: TIMEOUT },
    ]);
  });

  it('does nothing and starts no thread when flushed before any span has ended', async () => {
    const { thread, processor, tracer } = setup();
    tracer.startSpan('still open');
    processor.flushSync();
    await processor.forceFlush();
    await processor.shutdown();
    assert.equal(thread.starts, 0);
    assert.deepEqual(thread.calls, []);
  });
});

describe('ThreadSpanProcessor: open spans', () => {
  it('openParent returns the parent while it is open, and undefined once it has ended', () => {
    const { processor, tracer, childOf } = setup();
    const parent = tracer.startSpan('parent');
    const child = childOf(parent);
    assert.equal(readable(child).parentSpanContext?.spanId, parent.spanContext().spanId);
    assert.equal(processor.openParent(child), parent);
    parent.end();
    assert.equal(processor.openParent(child), undefined);
  });

  it('openParent returns undefined for a root span', () => {
    const { processor, tracer } = setup();
    tracer.startSpan('unrelated');
    assert.equal(processor.openParent(tracer.startSpan('root')), undefined);
  });

  it('remembers at most 4096 open spans, forgetting the oldest first', () => {
    const { processor, tracer, childOf } = setup();
    const spans = Array.from({ length: 4097 }, (_, i) => tracer.startSpan(`open ${i}`));
    const first = spans[0]!;
    const last = spans[4096]!;
    assert.equal(processor.openParent(childOf(first)), undefined, 'the oldest open span is forgotten');
    assert.equal(processor.openParent(childOf(last)), last, 'the newest open span is remembered');
  });
});
