// Logs, the third signal, on the app's thread: the logger provider the pino, winston and bunyan
// instrumentations send each record to. A record becomes plain data at once, in the logging call and
// its trace context, and goes to the export thread in batches, like spans; nothing here waits on the
// network, so the app's own logging is never slowed by a collector. Not the SDK's LoggerProvider: it
// validates and copies each record through several objects, ten times the cost of this one.
import type { Context } from '@opentelemetry/api';
import type { Logger, LoggerProvider, LogRecord } from '@opentelemetry/api-logs';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { Config } from '../config/types.js';
import {
  exceptionAttributes,
  type LogData,
  type LogRecordData,
  logDataSize,
  MAX_RECORD_CHARS,
  type PinoLogger,
  toAnyValue,
  toAttributes,
} from '../export/log-record.js';
import type { ExportThread } from '../export/thread.js';
import type { PinoLineSink } from '../instrument/pino-log-sending.js';
import { reason } from '../log.js';

const FATAL = 21;
/** Large records go over sooner: what waits on the app's thread stays small. */
const HAND_OVER_BYTES = 2 ** 20;
/** The scope of the record the preload writes itself when the process dies of an error. */
const CRASH_SCOPE: InstrumentationScope = { name: '@rustok/otel' };

/** What the logs need of the OpenTelemetry packages, passed in so that this file loads none of them. */
export interface LogsApi {
  activeContext(): Context;
  /** The span's own, valid, context: read, never kept, since it may carry what cannot cross to the export thread. */
  spanContextOf(context: Context): { readonly traceId: string; readonly spanId: string; readonly traceFlags: number } | undefined;
  hrTime(time?: LogRecord['timestamp']): [number, number];
}

export class ThreadLoggerProvider implements LoggerProvider {
  readonly #startThread: () => ExportThread;
  readonly #batch: Config['logs']['batch'];
  readonly #api: LogsApi;
  readonly #loggers = new Map<string, Logger>();
  #buffer: LogData[] = [];
  #bufferedBytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(startThread: () => ExportThread, batch: Config['logs']['batch'], api: LogsApi) {
    this.#startThread = startThread;
    this.#batch = batch;
    this.#api = api;
  }

  getLogger(name: string, version?: string, options?: { schemaUrl?: string }): Logger {
    const key = `${name}\u0000${version ?? ''}\u0000${options?.schemaUrl ?? ''}`;
    let logger = this.#loggers.get(key);
    if (!logger) {
      const scope: InstrumentationScope = { name, version, schemaUrl: options?.schemaUrl };
      logger = { emit: (record) => this.#emit(record, scope), enabled: () => true };
      this.#loggers.set(key, logger);
    }
    return logger;
  }

  /** One FATAL record for the error the process dies of, in the trace of the request it interrupted. */
  recordCrash(error: unknown, context: Context): void {
    this.#emit(
      {
        severityNumber: FATAL,
        severityText: 'FATAL',
        body: `the process ends: uncaught ${describe(error)}`,
        exception: error,
        context,
      },
      CRASH_SCOPE,
    );
  }

  /** Hands what is buffered to the export thread now: before every flush. */
  handOver(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#buffer.length === 0) return;
    this.#startThread().sendLogs(this.#buffer);
    this.#buffer = [];
    this.#bufferedBytes = 0;
  }

  /** Where the pino instrumentation's lines go: as written, read in the export thread (src/instrument/pino-log-sending.ts). */
  pinoLines(instrumentation: Instrumentation): PinoLineSink {
    const api = this.#api;
    const scope: InstrumentationScope = { name: instrumentation.instrumentationName, version: instrumentation.instrumentationVersion };
    return (format, levelNames) => {
      const logger: PinoLogger = { scope, format, levelNames };
      return (line, level) => {
        const span = api.spanContextOf(api.activeContext());
        this.#push([
          line.length > MAX_RECORD_CHARS ? line.slice(0, MAX_RECORD_CHARS) : line,
          level,
          Date.now(),
          span?.traceId ?? '',
          span?.spanId ?? '',
          span?.traceFlags ?? 0,
          logger,
        ]);
      };
    };
  }

  #emit(record: LogRecord, scope: InstrumentationScope): void {
    let data: LogRecordData;
    try {
      data = this.#toData(record, scope);
    } catch {
      // A record we cannot read is the app's to keep: its own log line is already written.
      return;
    }
    this.#push(data);
  }

  #push(data: LogData): void {
    this.#buffer.push(data);
    this.#bufferedBytes += logDataSize(data);
    if (this.#buffer.length >= this.#batch.maxExportBatchSize || this.#bufferedBytes >= HAND_OVER_BYTES) this.handOver();
    else this.#timer ??= setTimeout(() => this.handOver(), this.#batch.scheduledDelayMillis).unref();
  }

  #toData(record: LogRecord, scope: InstrumentationScope): LogRecordData {
    const api = this.#api;
    const { attributes, dropped } = toAttributes(record.attributes);
    if (record.exception !== undefined) {
      for (const [key, value] of Object.entries(exceptionAttributes(record.exception))) attributes[key] ??= value;
    }
    const span = api.spanContextOf(record.context ?? api.activeContext());
    const observed = api.hrTime(record.observedTimestamp);
    return {
      time: record.timestamp === undefined ? observed : api.hrTime(record.timestamp),
      observed,
      severityNumber: record.severityNumber,
      severityText: record.severityText,
      body: toAnyValue(record.body),
      eventName: record.eventName,
      attributes,
      droppedAttributes: dropped,
      span: span && { traceId: span.traceId, spanId: span.spanId, traceFlags: span.traceFlags },
      scope,
    };
  }
}

/** `TypeError: message` for an error, its text for anything else; never throws, whatever was thrown. */
function describe(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${reason(error)}` : reason(error);
  } catch {
    return reason(error);
  }
}
