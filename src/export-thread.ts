// The app's side of the export thread: starts it, hands it batches, and waits for its flush, also
// synchronously, which is the only way to wait inside `process.exit()` and the 'exit' event.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Resource } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Config } from './config.js';
import type { WorkerMessage, WorkerSetup } from './export-worker.js';
import { reason, say } from './log.js';
import type { SpanRecord } from './span-record.js';

export interface ExportThread {
  send(records: readonly SpanRecord[]): void;
  sendMetrics(scopeMetrics: ResourceMetrics['scopeMetrics']): void;
  /** Waits until everything sent so far is exported or given up on, for at most `timeoutMillis`. */
  flushSync(timeoutMillis: number): void;
  flush(timeoutMillis: number): Promise<void>;
}

export function startExportThread(config: Config, resource: Resource): ExportThread {
  const setup: WorkerSetup = {
    exporter: config.exporter,
    metrics: config.metrics.otlp,
    batch: config.batch,
    flushed: new SharedArrayBuffer(4),
  };
  const flushed = new Int32Array(setup.flushed);
  // No preloads in the export thread: it must not trace itself, nor start the app's tooling twice.
  const worker = new Worker(join(__dirname, 'export-worker.cjs'), {
    workerData: setup,
    execArgv: [],
    stdout: false,
    stderr: false,
    // It holds at most the span queue and one metrics collection; small heaps keep it from growing the app's RSS while it idles.
    resourceLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 4 },
  });
  worker.unref();
  let alive = true;
  worker.on('error', (error) => {
    alive = false;
    say(`the export thread failed (${reason(error)}); spans are dropped from now on`);
  });
  worker.on('exit', () => {
    alive = false;
  });
  let lastFlush = 0;
  let resourceSent = false;
  const post = (message: WorkerMessage) => {
    if (alive) worker.postMessage(message);
  };
  // Detectors may still be reading (host id, container id); a flush before they finish goes with what is known.
  const sendResource = () => {
    if (resourceSent) return;
    resourceSent = true;
    post({ type: 'resource', attributes: { ...resource.attributes } });
  };
  if (resource.asyncAttributesPending) void resource.waitForAsyncAttributes?.().then(sendResource, sendResource);
  else sendResource();
  const startFlush = () => {
    sendResource();
    lastFlush++;
    post({ type: 'flush', id: lastFlush });
    return lastFlush;
  };

  return {
    send(records) {
      post({ type: 'spans', records });
    },
    sendMetrics(scopeMetrics) {
      post({ type: 'metrics', scopeMetrics });
    },
    flushSync(timeoutMillis) {
      if (!alive) return;
      const id = startFlush();
      const deadline = Date.now() + timeoutMillis;
      for (let seen = Atomics.load(flushed, 0); seen < id; seen = Atomics.load(flushed, 0)) {
        const left = deadline - Date.now();
        if (left <= 0 || Atomics.wait(flushed, 0, seen, left) === 'timed-out') return;
      }
    },
    flush(timeoutMillis) {
      if (!alive) return Promise.resolve();
      const id = startFlush();
      return new Promise((resolve) => {
        // A ref'd timer keeps the event loop alive while the (unref'd) thread answers.
        const timer = setTimeout(done, timeoutMillis);
        function done() {
          clearTimeout(timer);
          worker.off('message', onMessage);
          resolve();
        }
        function onMessage(message: { type: string; id: number }) {
          if (message.type === 'flushed' && message.id >= id) done();
        }
        worker.on('message', onMessage);
      });
    },
  };
}
