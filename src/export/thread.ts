// The app's side of the export thread: starts it, hands it batches, and waits for its flush, also
// synchronously, which is the only way to wait inside `process.exit()` and the 'exit' event. A thread
// that dies (its heap cap, a crash) is said in one line and started once more; no wait outlasts it.
import { Worker } from 'node:worker_threads';
import type { Resource } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Config } from '../config/types.js';
import { hidden, reason, say } from '../log.js';
import { attributesAsSent } from '../preload/resource.js';
import type { LogData } from './log-record.js';
import { BEAT, FLUSHED, HEARTBEAT_MILLIS, SILENT_MILLIS, STATE_BYTES, STOPPED, type WorkerMessage, type WorkerSetup } from './protocol.js';
import type { SpanRecord } from './span-record.js';

export interface ExportThread {
  send(records: readonly SpanRecord[]): void;
  sendLogs(records: readonly LogData[]): void;
  sendMetrics(scopeMetrics: ResourceMetrics['scopeMetrics']): void;
  /** Waits until everything sent so far is exported or given up on, for at most `timeoutMillis`. */
  flushSync(timeoutMillis: number): void;
  flush(timeoutMillis: number): Promise<void>;
}

/** A thread that dies is replaced this many times; one that keeps dying would only keep costing the app. */
const RESTARTS = 1;

export function startExportThread(config: Config, resource: Resource): ExportThread {
  const setup: WorkerSetup = {
    traces: { otlp: config.traces.otlp, batch: config.traces.batch },
    metrics: config.metrics.otlp,
    ...(config.logs.exporter === 'none' ? {} : { logs: { otlp: config.logs.otlp, batch: config.logs.batch } }),
    state: new SharedArrayBuffer(STATE_BYTES),
    secrets: hidden(),
  };
  const state = new Int32Array(setup.state);
  let worker: Worker | undefined;
  let restarts = 0;
  let lastFlush = 0;
  let resourceSent = false;

  const start = () => {
    Atomics.store(state, STOPPED, 0);
    Atomics.store(state, BEAT, 0);
    // No preloads in the export thread: it must not trace itself, nor start the app's tooling twice.
    // A thread reads the preloads of NODE_OPTIONS from its own environment (tsx's alone outgrew its heap).
    const started = new Worker(new URL('./export-worker.cjs', import.meta.url), {
      workerData: setup,
      execArgv: [],
      env: withoutNodeOptions(process.env),
      stdout: false,
      stderr: false,
      resourceLimits: heapLimits(config),
    });
    started.unref();
    started.on('error', (error) => stopped(started, reason(error)));
    started.on('exit', (code) => stopped(started, `exit code ${code}`));
    worker = started;
    resourceSent = false;
    if (!resource.asyncAttributesPending) sendResource();
  };
  // 'error' and then 'exit' for one death: the first one tells.
  const stopped = (which: Worker, why: string) => {
    if (which !== worker) return;
    worker = undefined;
    if (restarts >= RESTARTS) {
      say(`the export thread stopped again (${why}); spans, logs and metrics are dropped from now on`);
      return;
    }
    restarts++;
    say(`the export thread stopped (${why}); what it held is lost, and a new one takes over`);
    start();
  };
  const post = (message: WorkerMessage) => worker?.postMessage(message);
  // Detectors may still be reading (host id, container id); a flush before they finish goes with what is known.
  const sendResource = () => {
    if (resourceSent) return;
    resourceSent = true;
    post({ type: 'resource', attributes: attributesAsSent(resource, config) });
  };
  const startFlush = () => {
    sendResource();
    lastFlush++;
    post({ type: 'flush', id: lastFlush });
    return lastFlush;
  };

  if (resource.asyncAttributesPending) void resource.waitForAsyncAttributes?.().then(sendResource, sendResource);
  start();

  return {
    send(records) {
      post({ type: 'spans', records });
    },
    sendLogs(records) {
      post({ type: 'logs', records });
    },
    sendMetrics(scopeMetrics) {
      post({ type: 'metrics', scopeMetrics });
    },
    flushSync(timeoutMillis) {
      if (!worker) return;
      const id = startFlush();
      const deadline = Date.now() + timeoutMillis;
      let beat = Atomics.load(state, BEAT);
      let heard = Date.now();
      // A crash marks the thread stopped on its way out; the heap cap runs no code, so its silence tells.
      for (let seen = Atomics.load(state, FLUSHED); seen < id && Atomics.load(state, STOPPED) === 0; seen = Atomics.load(state, FLUSHED)) {
        const left = deadline - Date.now();
        if (left <= 0) return;
        Atomics.wait(state, FLUSHED, seen, Math.min(left, HEARTBEAT_MILLIS));
        if (Atomics.load(state, BEAT) !== beat) {
          beat = Atomics.load(state, BEAT);
          heard = Date.now();
        } else if (beat > 0 && Date.now() - heard >= SILENT_MILLIS) {
          // Silent once it had been heard: a thread still starting (slowly, on a starved machine) is no dead one.
          worker = undefined;
          say(`the export thread stopped answering (its heap cap, most likely); what it held is lost`);
          return;
        }
      }
    },
    flush(timeoutMillis) {
      const current = worker;
      if (!current) return Promise.resolve();
      const id = startFlush();
      return new Promise((resolve) => {
        // A ref'd timer keeps the event loop alive while the (unref'd) thread answers.
        const timer = setTimeout(done, timeoutMillis);
        function done() {
          clearTimeout(timer);
          current?.off('message', onMessage);
          current?.off('exit', done);
          resolve();
        }
        function onMessage(message: { type: string; id: number }) {
          if (message.type === 'flushed' && message.id >= id) done();
        }
        current.on('message', onMessage);
        current.on('exit', done);
      });
    },
  };
}

/**
 * It holds at most the span and log queues and one metrics collection; small heaps keep it from
 * growing the app's RSS. Its young generation holds what a busy second queues: in 4 MB, spans and
 * records outlived it, were promoted and collected again, and garbage collection was the thread's
 * largest cost. With spans alone (Express at 100 % sampling), 8 MB took ~10 µs a request off all
 * threads' CPU and gave ~5 % more requests a second, as 16 MB did. With logs, 16 MB: a worker profile at
 * 8 000 pino records/s spent 356 ms of 6 s in GC with 4 MB, 122 ms with 16 MB (the process's RSS
 * under that load 11 MB higher).
 */
function heapLimits(config: Config): { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } {
  return config.logs.exporter === 'none'
    ? { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 }
    : { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 };
}

function withoutNodeOptions(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => name !== 'NODE_OPTIONS'));
}
