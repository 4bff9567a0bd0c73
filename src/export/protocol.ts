// What the app's thread and the export thread say to each other: the set-up the thread starts with,
// the messages it gets, and the shared memory the app's thread can wait on while its event loop cannot
// run (inside `process.exit()`, the 'exit' event).
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Config } from '../config/types.js';
import type { LogData } from './log-record.js';
import type { SpanRecord } from './span-record.js';

export interface WorkerSetup {
  readonly traces: Pick<Config['traces'], 'otlp' | 'batch'>;
  readonly metrics: Config['metrics']['otlp'];
  /** Absent when logs are off (OTEL_LOGS_EXPORTER=none). */
  readonly logs?: Pick<Config['logs'], 'otlp' | 'batch'>;
  /** Int32 slots, at FLUSHED, STOPPED and BEAT. */
  readonly state: SharedArrayBuffer;
  /** What the thread's lines must not show: its log module is not the app thread's. */
  readonly secrets: readonly string[];
}

/** The id of the last flush the thread finished. */
export const FLUSHED = 0;
/** 1 once the thread is on its way out: nobody should wait for it any more. */
export const STOPPED = 1;
/**
 * Counted up by the thread once it is up, then on each flush asked of it and every HEARTBEAT_MILLIS
 * until its flushes are done: one killed by its heap cap runs no code on its way out, and the app's
 * thread, blocked in a wait, cannot hear of it any other way.
 */
export const BEAT = 2;
export const STATE_BYTES = 3 * Int32Array.BYTES_PER_ELEMENT;
export const HEARTBEAT_MILLIS = 250;
/** A thread silent this long is taken for dead: its longest task (a batch's protobuf) takes milliseconds. */
export const SILENT_MILLIS = 2000;

export type WorkerMessage =
  | { readonly type: 'resource'; readonly attributes: Record<string, unknown> }
  | { readonly type: 'spans'; readonly records: readonly SpanRecord[] }
  | { readonly type: 'logs'; readonly records: readonly LogData[] }
  | { readonly type: 'metrics'; readonly scopeMetrics: ResourceMetrics['scopeMetrics'] }
  | { readonly type: 'flush'; readonly id: number };
