// A real OTLP receiver: gRPC and HTTP/protobuf on loopback, decoding the wire format with the
// protobuf definitions the OpenTelemetry project publishes. `rustok-otel dev` prints what it gets;
// the tests and benchmarks assert on it, and make it fail like a collector does (setFault).
import { once } from 'node:events';
import { createServer, type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protos from 'otlp-proto-root/build/src/generated/root.js';

// biome-ignore lint/suspicious/noExplicitAny: the generated root is typed per message; we read a few fields.
const root = protos as any;
const { ExportTraceServiceRequest, ExportTraceServiceResponse } = root.opentelemetry.proto.collector.trace.v1;
const { ExportMetricsServiceRequest, ExportMetricsServiceResponse } = root.opentelemetry.proto.collector.metrics.v1;
const { ExportLogsServiceRequest, ExportLogsServiceResponse } = root.opentelemetry.proto.collector.logs.v1;

/** The protocol an export came over. */
export type Via = 'grpc' | 'http';

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly startNanos: bigint;
  readonly endNanos: bigint;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly resource: Readonly<Record<string, unknown>>;
  readonly status: { readonly code: number; readonly message: string };
  readonly events: readonly { name: string; attributes: Record<string, unknown> }[];
  readonly links: readonly { traceId: string; spanId: string }[];
  readonly via: Via;
}

/** One metric of one export, its data points reduced to what the tests read. */
export interface ReceivedMetric {
  readonly name: string;
  /** The instrumentation scope's name. */
  readonly scope: string;
  readonly unit: string;
  readonly type: 'histogram' | 'gauge' | 'sum' | 'other';
  readonly points: readonly { attributes: Record<string, unknown>; value?: number; count?: number; sum?: number }[];
  readonly resource: Readonly<Record<string, unknown>>;
  readonly via: Via;
}

/** One log record. Times are nanoseconds since the epoch, 0n when the record has none (as `startNanos` of spans). */
export interface ReceivedLog {
  /** Hex; '' when the record is in no trace. */
  readonly traceId: string;
  /** Hex; '' when the record is in no span. */
  readonly spanId: string;
  readonly timeNanos: bigint;
  readonly observedNanos: bigint;
  /** OTLP SeverityNumber: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL; 0 unspecified. */
  readonly severityNumber: number;
  /** '' when absent. */
  readonly severityText: string;
  /** The decoded AnyValue: string, number, boolean, Buffer (bytes), array, or a plain object (kvlist); undefined when absent. */
  readonly body: unknown;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly resource: Readonly<Record<string, unknown>>;
  /** '' for what is absent. */
  readonly scope: { readonly name: string; readonly version: string };
  /** '' when absent. */
  readonly eventName: string;
  readonly droppedAttributesCount: number;
  /** W3C trace flags in the low byte (1: sampled); 0 when absent. */
  readonly flags: number;
  readonly via: Via;
}

export type Fault = 'reject' | 'unavailable' | 'hang';

export interface Receiver {
  readonly grpcUrl: string;
  readonly httpUrl: string;
  readonly spans: readonly ReceivedSpan[];
  readonly metrics: readonly ReceivedMetric[];
  readonly logs: readonly ReceivedLog[];
  /** Resolves once `predicate` holds for the spans received so far; rejects after `timeoutMs`. */
  waitFor(predicate: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<readonly ReceivedSpan[]>;
  waitForMetrics(predicate: (metrics: readonly ReceivedMetric[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Resolves once `predicate` holds for the log records received so far; rejects after `timeoutMs`. */
  waitForLogs(predicate: (logs: readonly ReceivedLog[]) => boolean, timeoutMs?: number): Promise<readonly ReceivedLog[]>;
  onSpans(listener: (spans: readonly ReceivedSpan[]) => void): void;
  /** Called with the metrics of each export, as they arrive. */
  onMetrics(listener: (metrics: readonly ReceivedMetric[]) => void): void;
  /** Called with the records of each export, as they arrive. */
  onLogs(listener: (logs: readonly ReceivedLog[]) => void): void;
  /**
   * How the receiver misbehaves until told otherwise: `reject` answers every export as invalid (HTTP
   * 400, gRPC INVALID_ARGUMENT, which exporters do not retry), `unavailable` as overloaded (HTTP 503,
   * gRPC UNAVAILABLE, which they retry), `hang` never answers. `undefined` is back to normal.
   */
  setFault(fault: Fault | undefined): void;
  /** How many exports a `reject` or `unavailable` fault has answered so far: proof that a failure the test arranged happened. */
  refusedExports(): number;
  /** Resolves once refusedExports() is at least `atLeast`; rejects after `timeoutMs`. */
  waitForRefused(atLeast: number, timeoutMs?: number): Promise<void>;
  /** Drops everything received so far: a benchmark counts each run's records, then forgets them, or the run's would fill its heap. */
  forget(): void;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** 0, the default, takes a free port. */
  readonly grpcPort?: number;
  readonly httpPort?: number;
  /** Keep what arrives in `spans`, `metrics` and `logs` (the tests read them); a long-running viewer does not. */
  readonly retain?: boolean;
  /** A request that is not OTLP protobuf: it is answered as invalid, and said here. */
  readonly onRejected?: (reason: string) => void;
  /**
   * Decode what arrives when `spans`, `metrics` or `logs` is read, unless a wait or a listener needs
   * it sooner: the benchmark's receiver shares the machine with the app it measures, as a collector
   * would not, and decoding is most of its work. What is not OTLP is then answered as accepted.
   */
  readonly decodeOnRead?: boolean;
  /** Both ports speak TLS with this key and certificate (the URLs are then https://); with `clientCa`, they ask for a client certificate signed by it. */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer; readonly clientCa?: Buffer };
}

export async function startReceiver({
  grpcPort: grpcWanted = 0,
  httpPort: httpWanted = 0,
  retain = true,
  onRejected = () => {},
  decodeOnRead = false,
  tls,
}: ReceiverOptions = {}): Promise<Receiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetric[] = [];
  const logs: ReceivedLog[] = [];
  /** What arrived and waits to be decoded when read (decodeOnRead). */
  const undecoded: (() => void)[] = [];
  const decodeArrived = () => {
    for (const decode of undecoded.splice(0)) tryAccept(decode);
  };
  let fault: Fault | undefined;
  let refused = 0;
  const refusedListeners: (() => void)[] = [];
  const refuse = () => {
    refused++;
    for (const listener of [...refusedListeners]) listener();
  };
  const listeners: ((batch: readonly ReceivedSpan[]) => void)[] = [];
  const metricListeners: ((batch: readonly ReceivedMetric[]) => void)[] = [];
  const logListeners: ((batch: readonly ReceivedLog[]) => void)[] = [];
  /** One export of a signal: decoded now, or when read (decodeOnRead) while nobody waits or listens. */
  const accepting =
    <T>(decodeBody: (body: Buffer, via: Via) => T[], items: T[], told: ((batch: readonly T[]) => void)[]) =>
    (body: Buffer, via: Via) => {
      const take = () => {
        const batch = decodeBody(body, via);
        if (retain) items.push(...batch);
        for (const listener of [...told]) listener(batch);
      };
      if (decodeOnRead && told.length === 0) undecoded.push(take);
      else {
        decodeArrived();
        take();
      }
    };
  const signals = {
    traces: {
      response: Buffer.from(ExportTraceServiceResponse.encode({}).finish()),
      accept: accepting(decode, spans, listeners),
    },
    metrics: {
      response: Buffer.from(ExportMetricsServiceResponse.encode({}).finish()),
      accept: accepting(decodeMetrics, metrics, metricListeners),
    },
    logs: {
      response: Buffer.from(ExportLogsServiceResponse.encode({}).finish()),
      accept: accepting(decodeLogs, logs, logListeners),
    },
  };
  const services: Record<keyof typeof signals, string> = {
    traces: 'trace.v1.TraceService',
    metrics: 'metrics.v1.MetricsService',
    logs: 'logs.v1.LogsService',
  };

  /** Why a request could not be decoded, if it could not. */
  const tryAccept = (accept: () => void): string | undefined => {
    try {
      accept();
      return undefined;
    } catch (error) {
      const invalid = `not an OTLP protobuf request (${error instanceof Error ? error.message : error})`;
      onRejected(invalid);
      return invalid;
    }
  };

  const grpcServer = new grpc.Server();
  for (const [signal, { response, accept }] of Object.entries(signals)) {
    const service = services[signal as keyof typeof signals];
    grpcServer.addService(
      {
        Export: {
          path: `/opentelemetry.proto.collector.${service}/Export`,
          requestStream: false,
          responseStream: false,
          requestSerialize: (value: Buffer) => value,
          requestDeserialize: (bytes: Buffer) => bytes,
          responseSerialize: () => response,
          responseDeserialize: (bytes: Buffer) => bytes,
        },
      },
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          if (fault === 'hang') return;
          if (fault === 'reject' || fault === 'unavailable') {
            refuse();
            return callback(
              fault === 'reject'
                ? { code: grpc.status.INVALID_ARGUMENT, details: 'rejected by the test' }
                : { code: grpc.status.UNAVAILABLE, details: 'overloaded, says the test' },
            );
          }
          const invalid = tryAccept(() => accept(call.request, 'grpc'));
          if (invalid) return callback({ code: grpc.status.INVALID_ARGUMENT, details: invalid });
          callback(null, {});
        },
      },
    );
  }
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(tls.clientCa ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.clientCa !== undefined)
    : grpc.ServerCredentials.createInsecure();
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(`127.0.0.1:${grpcWanted}`, credentials, (error, port) => (error ? reject(error) : resolve(port))),
  );

  const handleHttp = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const signal =
        request.url === '/v1/traces'
          ? signals.traces
          : request.url === '/v1/metrics'
            ? signals.metrics
            : request.url === '/v1/logs'
              ? signals.logs
              : undefined;
      if (request.method !== 'POST' || !signal) {
        response.writeHead(404).end();
        return;
      }
      if (fault === 'hang') return;
      if (fault === 'reject' || fault === 'unavailable') {
        refuse();
        response.writeHead(fault === 'reject' ? 400 : 503).end(fault === 'reject' ? 'rejected by the test' : 'overloaded, says the test');
        return;
      }
      const raw = Buffer.concat(chunks);
      const invalid = tryAccept(() => signal.accept(request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw, 'http'));
      if (invalid) {
        response.writeHead(400).end(invalid);
        return;
      }
      response.writeHead(200, { 'content-type': 'application/x-protobuf' });
      response.end(signal.response);
    });
  };
  // With `tls`, OTLP over HTTP speaks it too, with the same certificates.
  const httpServer: HttpServer = tls
    ? createHttpsServer({ key: tls.key, cert: tls.cert, ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true } : {}) }, handleHttp)
    : createServer(handleHttp);
  httpServer.listen(httpWanted, '127.0.0.1');
  await Promise.race([
    once(httpServer, 'listening'),
    once(httpServer, 'error').then(([error]) => {
      grpcServer.forceShutdown();
      throw error;
    }),
  ]);
  const httpPort = (httpServer.address() as { port: number }).port;

  const receiver: Receiver = {
    grpcUrl: `${tls ? 'https' : 'http'}://127.0.0.1:${grpcPort}`,
    httpUrl: `${tls ? 'https' : 'http'}://127.0.0.1:${httpPort}`,
    get spans() {
      decodeArrived();
      return spans;
    },
    get metrics() {
      decodeArrived();
      return metrics;
    },
    get logs() {
      decodeArrived();
      return logs;
    },
    onSpans: (listener) => listeners.push(listener),
    onMetrics: (listener) => metricListeners.push(listener),
    onLogs: (listener) => logListeners.push(listener),
    setFault: (next) => {
      fault = next;
    },
    refusedExports: () => refused,
    waitForRefused(atLeast, timeoutMs = 15_000) {
      return until(
        refusedListeners,
        () => refused >= atLeast,
        timeoutMs,
        () => `${refused} refused exports, not ${atLeast}`,
      );
    },
    forget() {
      undecoded.length = 0;
      spans.length = 0;
      metrics.length = 0;
      logs.length = 0;
    },
    waitFor(predicate, timeoutMs = 15_000) {
      const got = () => spans.map((span) => span.name).join(', ') || 'no spans';
      decodeArrived();
      return until(listeners, () => predicate(spans), timeoutMs, got).then(() => spans);
    },
    waitForLogs(predicate, timeoutMs = 15_000) {
      const got = () =>
        logs.length === 0 ? 'no log records' : `${logs.length} log records: ${logs.map((log) => oneLine(log.body)).join(', ')}`;
      decodeArrived();
      return until(logListeners, () => predicate(logs), timeoutMs, got).then(() => logs);
    },
    waitForMetrics(predicate, timeoutMs = 15_000) {
      const got = () => [...new Set(metrics.map((metric) => metric.name))].join(', ') || 'no metrics';
      decodeArrived();
      return until(metricListeners, () => predicate(metrics), timeoutMs, got);
    },
    async close() {
      // An answer already written still reaches its exporter: a test that saw its spans arrive and
      // closes must not leave the app a cancelled export to complain about. A hanging call never ends.
      if (fault === 'hang') grpcServer.forceShutdown();
      else await new Promise((resolve) => grpcServer.tryShutdown(resolve));
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
    },
  };
  return receiver;
}

/** Resolves once `holds` is true, checked now and on each arrival (a call of a listener in `listeners`). */
function until<T>(listeners: ((arrived: T) => void)[], holds: () => boolean, timeoutMs: number, got: () => string): Promise<void> {
  if (holds()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      listeners.splice(listeners.indexOf(check), 1);
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`receiver: condition not met in ${timeoutMs} ms; got ${got()}`));
    }, timeoutMs);
    const check = () => {
      if (!holds()) return;
      stop();
      resolve();
    };
    listeners.push(check);
  });
}

// Decoded protobuf messages, read directly: converting them to plain objects first (toObject) is
// several times slower, and the export-capacity benchmark must measure the exporter, not this receiver.
type Long = { toString(): string };
type Value = { value?: string; [field: string]: unknown };
type KeyValue = { key: string; value?: Value };

function value(v: Value | undefined | null): unknown {
  if (!v?.value) return undefined;
  const field = v[v.value];
  if (v.value === 'intValue') return Number(String(field));
  if (v.value === 'arrayValue') return ((field as { values?: Value[] }).values ?? []).map(value);
  if (v.value === 'kvlistValue') return attributes((field as { values?: KeyValue[] }).values);
  if (v.value === 'bytesValue') return Buffer.from(field as Uint8Array);
  return field;
}

/** A short description of a decoded value, for what a failed wait says it got. */
function oneLine(decoded: unknown): string {
  const text = typeof decoded === 'string' ? decoded : Buffer.isBuffer(decoded) ? `<${decoded.length} bytes>` : JSON.stringify(decoded);
  const line = String(text).replace(/\s+/g, ' ');
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

function attributes(list: KeyValue[] | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const kv of list ?? []) result[kv.key] = value(kv.value);
  return result;
}

const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('hex');
const nanos = (time: Long | number | undefined | null) => BigInt(String(time ?? 0));

interface DecodedSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId?: Uint8Array;
  name: string;
  kind?: number;
  startTimeUnixNano?: Long;
  endTimeUnixNano?: Long;
  attributes?: KeyValue[];
  status?: { code?: number; message?: string };
  events?: { name: string; attributes?: KeyValue[] }[];
  links?: { traceId: Uint8Array; spanId: Uint8Array }[];
}

function decode(body: Buffer, via: Via): ReceivedSpan[] {
  const message = ExportTraceServiceRequest.decode(body);
  const result: ReceivedSpan[] = [];
  for (const resourceSpans of message.resourceSpans ?? []) {
    const resource = attributes(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of (scopeSpans.spans ?? []) as DecodedSpan[]) {
        result.push({
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: span.name,
          kind: span.kind ?? 0,
          startNanos: nanos(span.startTimeUnixNano),
          endNanos: nanos(span.endTimeUnixNano),
          attributes: attributes(span.attributes),
          resource,
          status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
          events: (span.events ?? []).map((event) => ({ name: event.name, attributes: attributes(event.attributes) })),
          links: (span.links ?? []).map((link) => ({ traceId: hex(link.traceId), spanId: hex(link.spanId) })),
          via,
        });
      }
    }
  }
  return result;
}

interface DecodedPoint {
  attributes?: KeyValue[];
  asDouble?: number;
  asInt?: Long;
  count?: Long;
  sum?: number;
}

function decodeMetrics(body: Buffer, via: Via): ReceivedMetric[] {
  const message = ExportMetricsServiceRequest.decode(body);
  const result: ReceivedMetric[] = [];
  for (const resourceMetrics of message.resourceMetrics ?? []) {
    const resource = attributes(resourceMetrics.resource?.attributes);
    for (const scopeMetrics of resourceMetrics.scopeMetrics ?? []) {
      for (const metric of scopeMetrics.metrics ?? []) {
        const type = metric.histogram ? 'histogram' : metric.gauge ? 'gauge' : metric.sum ? 'sum' : 'other';
        const points: DecodedPoint[] = (metric.histogram ?? metric.gauge ?? metric.sum)?.dataPoints ?? [];
        result.push({
          name: metric.name,
          scope: scopeMetrics.scope?.name ?? '',
          unit: metric.unit ?? '',
          type,
          points: points.map((point) => ({
            attributes: attributes(point.attributes),
            value: point.asDouble ?? (point.asInt === undefined ? undefined : Number(String(point.asInt))),
            count: point.count === undefined ? undefined : Number(String(point.count)),
            sum: point.sum ?? undefined,
          })),
          resource,
          via,
        });
      }
    }
  }
  return result;
}

interface DecodedLogRecord {
  timeUnixNano?: Long | null;
  observedTimeUnixNano?: Long | null;
  severityNumber?: number | null;
  severityText?: string | null;
  body?: Value | null;
  attributes?: KeyValue[];
  droppedAttributesCount?: number | null;
  flags?: number | null;
  traceId?: Uint8Array | null;
  spanId?: Uint8Array | null;
  eventName?: string | null;
}

function decodeLogs(body: Buffer, via: Via): ReceivedLog[] {
  const message = ExportLogsServiceRequest.decode(body);
  const result: ReceivedLog[] = [];
  for (const resourceLogs of message.resourceLogs ?? []) {
    const resource = attributes(resourceLogs.resource?.attributes);
    for (const scopeLogs of resourceLogs.scopeLogs ?? []) {
      const scope = { name: scopeLogs.scope?.name ?? '', version: scopeLogs.scope?.version ?? '' };
      for (const record of (scopeLogs.logRecords ?? []) as DecodedLogRecord[]) {
        result.push({
          traceId: hex(record.traceId ?? undefined),
          spanId: hex(record.spanId ?? undefined),
          timeNanos: nanos(record.timeUnixNano),
          observedNanos: nanos(record.observedTimeUnixNano),
          severityNumber: record.severityNumber ?? 0,
          severityText: record.severityText ?? '',
          body: value(record.body),
          attributes: attributes(record.attributes),
          resource,
          scope,
          eventName: record.eventName ?? '',
          droppedAttributesCount: record.droppedAttributesCount ?? 0,
          flags: record.flags ?? 0,
          via,
        });
      }
    }
  }
  return result;
}
