// The receiver of a user's own test suite: the OTLP receiver `rustok-otel dev` runs, listening on
// loopback, with waits that resolve on arrival and explain a miss, and the variables that point a
// service under the preload at it.
import { startReceiver } from '../receiver/otlp-receiver.js';
import {
  checkMatch,
  LOGS,
  type LogMatch,
  METRICS,
  type MetricMatch,
  mismatch,
  notArrived,
  type Signal,
  SPANS,
  type SpanMatch,
  show,
} from './match.js';
import { type ReceivedLog, type ReceivedMetricPoint, type ReceivedSpan, toLog, toPoints, toSpan } from './received.js';

export interface TestReceiverOptions {
  /**
   * The port for OTLP over gRPC, on 127.0.0.1. 0, the default, takes a free one: right for a service
   * started with `receiver.env()`. A test process that is itself under the preload needs the port its
   * `OTEL_EXPORTER_OTLP_ENDPOINT` names, since the preload read it when the process started.
   */
  readonly port?: number;
}

export interface WaitOptions {
  /** How many must have matched, those received before the call included. Default 1. */
  readonly count?: number;
  /** How long to wait before rejecting, in milliseconds. Default 10 000. */
  readonly timeoutMs?: number;
}

export interface TestReceiver {
  /** Where it listens: `http://127.0.0.1:<port>`, OTLP over gRPC. */
  readonly endpoint: string;
  /**
   * The environment for a service under test started with `--import @rustok/otel/register`: this
   * process's environment without its `OTEL_*` variables (a collector or sampler set for the CI job
   * must not decide what the test sees), tracing on, every signal sent here, and batches sent within
   * 100 ms and metrics every 250 ms rather than seconds apart. `overrides` come last; `undefined`
   * removes a variable.
   */
  env(overrides?: Readonly<Record<string, string | undefined>>): Record<string, string>;
  /**
   * Resolves with every span received that matches, once there are at least `count` of them; rejects
   * after `timeoutMs` saying what was expected and what arrived instead.
   */
  spans(match?: SpanMatch, options?: WaitOptions): Promise<ReceivedSpan[]>;
  /** The same for metric data points: the latest point of a series holds its totals. */
  metrics(match?: MetricMatch, options?: WaitOptions): Promise<ReceivedMetricPoint[]>;
  /** The same for log records. */
  logs(match?: LogMatch, options?: WaitOptions): Promise<ReceivedLog[]>;
  /** Forgets what arrived so far, so the next test waits for its own. */
  reset(): void;
  /** Stops listening; a wait still pending rejects. */
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Starts an OTLP receiver on 127.0.0.1 for a test to assert against.
 *
 * @example
 * const receiver = await startTestReceiver();
 * spawn(process.execPath, ['--import', '@rustok/otel/register', 'server.js'], { env: receiver.env() });
 * // … call the service, then:
 * await receiver.spans({ name: 'GET /orders/:id', kind: 'server', attributes: { 'http.response.status_code': 200 } });
 */
export async function startTestReceiver({ port = 0 }: TestReceiverOptions = {}): Promise<TestReceiver> {
  // Kept here rather than in the receiver, as what a test reads, and cleared by reset().
  const spans = arrivals(SPANS);
  const metrics = arrivals(METRICS);
  const logs = arrivals(LOGS);
  const receiver = await startReceiver({ grpcPort: port, retain: false }).catch((error: Error) => {
    if (port === 0 || !error.message.includes('EADDRINUSE')) throw error;
    // The likely cause: test files under the preload share its endpoint, and two ran at once.
    throw new Error(`startTestReceiver(): port ${port} of 127.0.0.1 is taken; run the test files that listen there one at a time`, {
      cause: error,
    });
  });
  receiver.onSpans((batch) => spans.add(batch.map(toSpan)));
  receiver.onMetrics((batch) => metrics.add(batch.flatMap(toPoints)));
  receiver.onLogs((batch) => logs.add(batch.map(toLog)));
  const endpoint = receiver.grpcUrl;
  return {
    endpoint,
    env(overrides = {}) {
      const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_'));
      const merged = {
        ...Object.fromEntries(inherited),
        OTEL_ENABLED: 'true',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_BLRP_SCHEDULE_DELAY: '100',
        OTEL_METRIC_EXPORT_INTERVAL: '250',
        ...overrides,
      };
      return Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined));
    },
    spans: (match, options) => spans.wait(match, options),
    metrics: (match, options) => metrics.wait(match, options),
    logs: (match, options) => logs.wait(match, options),
    reset() {
      for (const signal of [spans, metrics, logs]) signal.clear();
    },
    async close() {
      for (const signal of [spans, metrics, logs]) signal.cancel();
      await receiver.close();
    },
  };
}

/** What arrived of one signal, and the waits on it. */
function arrivals<T, M extends object>(signal: Signal<T, M>) {
  const items: T[] = [];
  let closed = false;
  /** Each pending wait: checked on every arrival, and told when the receiver closes. */
  const waits = new Set<{ check(): void; cancel(): void }>();
  return {
    add(batch: readonly T[]) {
      items.push(...batch);
      for (const wait of [...waits]) wait.check();
    },
    clear() {
      items.length = 0;
    },
    cancel() {
      closed = true;
      for (const wait of [...waits]) wait.cancel();
    },
    async wait(match = {} as M, { count = 1, timeoutMs = DEFAULT_TIMEOUT_MS }: WaitOptions = {}): Promise<T[]> {
      checkMatch(signal, match);
      if (!Number.isInteger(count) || count < 0)
        throw new RangeError(`receiver.${signal.method}(): count ${count} is not a whole number ≥ 0`);
      if (!(timeoutMs > 0 && timeoutMs <= 2 ** 31 - 1)) {
        throw new RangeError(`receiver.${signal.method}(): timeoutMs ${timeoutMs} is not between 1 and 2147483647`);
      }
      if (closed) throw new Error(`receiver.${signal.method}(): the receiver is closed`);
      const matching = () => items.filter((item) => mismatch(signal, item, match) === undefined);
      const now = matching();
      if (now.length >= count) return now;
      // Made here, so that its stack leads to the test's line rather than to a timer; V8 writes the message into it when read.
      const failure = new Error();
      return new Promise((resolve, reject) => {
        const fail = (message: string) => {
          stop();
          failure.message = message;
          reject(failure);
        };
        // A `where` of the test's that throws fails this wait with its error: not the export that
        // brought the items (the service would be told its data was refused), not the timer's turn.
        const failOn = (error: unknown) => {
          stop();
          reject(error);
        };
        const wait = {
          check() {
            let found: T[];
            try {
              found = matching();
            } catch (error) {
              failOn(error);
              return;
            }
            if (found.length < count) return;
            stop();
            resolve(found);
          },
          cancel: () => fail(`receiver.${signal.method}(): the receiver was closed while waiting for ${count} matching ${show(match)}`),
        };
        const timer = setTimeout(() => {
          try {
            fail(notArrived(signal, match, count, timeoutMs, items));
          } catch (error) {
            failOn(error);
          }
        }, timeoutMs);
        const stop = () => {
          clearTimeout(timer);
          waits.delete(wait);
        };
        waits.add(wait);
      });
    },
  };
}
