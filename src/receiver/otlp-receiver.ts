// A real OTLP receiver: gRPC and HTTP/protobuf on loopback, decoding the wire format with the
// protobuf definitions the OpenTelemetry project publishes. `rustok-otel dev` prints what it gets;
// the tests and benchmarks assert on it, and make it fail like a collector does (setFault).
import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protos from 'otlp-proto-root/build/src/generated/root.js';

// biome-ignore lint/suspicious/noExplicitAny: the generated root is typed per message; we read a few fields.
const root = protos as any;
const { ExportTraceServiceRequest, ExportTraceServiceResponse } = root.opentelemetry.proto.collector.trace.v1;
const { ExportMetricsServiceRequest, ExportMetricsServiceResponse } = root.opentelemetry.proto.collector.metrics.v1;

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
  readonly via: 'grpc' | 'http';
}

/** One metric of one export, its data points reduced to what the tests read. */
export interface ReceivedMetric {
  readonly name: string;
  readonly unit: string;
  readonly type: 'histogram' | 'gauge' | 'sum' | 'other';
  readonly points: readonly { attributes: Record<string, unknown>; value?: number; count?: number; sum?: number }[];
  readonly resource: Readonly<Record<string, unknown>>;
  readonly via: 'grpc' | 'http';
}

export type Fault = 'reject' | 'unavailable' | 'hang';

export interface Receiver {
  readonly grpcUrl: string;
  readonly httpUrl: string;
  readonly spans: readonly ReceivedSpan[];
  readonly metrics: readonly ReceivedMetric[];
  /** Resolves once `predicate` holds for the spans received so far; rejects after `timeoutMs`. */
  waitFor(predicate: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<readonly ReceivedSpan[]>;
  waitForMetrics(predicate: (metrics: readonly ReceivedMetric[]) => boolean, timeoutMs?: number): Promise<void>;
  onSpans(listener: (spans: readonly ReceivedSpan[]) => void): void;
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
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** 0, the default, takes a free port. */
  readonly grpcPort?: number;
  readonly httpPort?: number;
  /** Keep what arrives in `spans` and `metrics` (the tests read them); a long-running viewer does not. */
  readonly retain?: boolean;
  /** A request that is not OTLP protobuf: it is answered as invalid, and said here. */
  readonly onRejected?: (reason: string) => void;
}

export async function startReceiver({
  grpcPort: grpcWanted = 0,
  httpPort: httpWanted = 0,
  retain = true,
  onRejected = () => {},
}: ReceiverOptions = {}): Promise<Receiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetric[] = [];
  let fault: Fault | undefined;
  let refused = 0;
  const refusedListeners: (() => void)[] = [];
  const refuse = () => {
    refused++;
    for (const listener of [...refusedListeners]) listener();
  };
  const listeners: ((batch: readonly ReceivedSpan[]) => void)[] = [];
  const metricListeners: (() => void)[] = [];
  const signals = {
    traces: {
      response: Buffer.from(ExportTraceServiceResponse.encode({}).finish()),
      accept(body: Buffer, via: ReceivedSpan['via']) {
        const batch = decode(body, via);
        if (retain) spans.push(...batch);
        for (const listener of [...listeners]) listener(batch);
      },
    },
    metrics: {
      response: Buffer.from(ExportMetricsServiceResponse.encode({}).finish()),
      accept(body: Buffer, via: ReceivedMetric['via']) {
        const batch = decodeMetrics(body, via);
        if (retain) metrics.push(...batch);
        for (const listener of [...metricListeners]) listener();
      },
    },
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
    const service = signal === 'traces' ? 'trace.v1.TraceService' : 'metrics.v1.MetricsService';
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
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(`127.0.0.1:${grpcWanted}`, grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );

  const httpServer: HttpServer = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const signal = request.url === '/v1/traces' ? signals.traces : request.url === '/v1/metrics' ? signals.metrics : undefined;
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
  });
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
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    spans,
    metrics,
    onSpans: (listener) => listeners.push(listener),
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
    waitFor(predicate, timeoutMs = 15_000) {
      const got = () => spans.map((span) => span.name).join(', ') || 'no spans';
      return until(listeners, () => predicate(spans), timeoutMs, got).then(() => spans);
    },
    waitForMetrics(predicate, timeoutMs = 15_000) {
      const got = () => [...new Set(metrics.map((metric) => metric.name))].join(', ') || 'no metrics';
      return until(metricListeners, () => predicate(metrics), timeoutMs, got);
    },
    async close() {
      grpcServer.forceShutdown();
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

function value(v: Value | undefined): unknown {
  if (!v?.value) return undefined;
  const field = v[v.value];
  if (v.value === 'intValue') return Number(String(field));
  if (v.value === 'arrayValue') return ((field as { values?: Value[] }).values ?? []).map(value);
  return field;
}

function attributes(list: KeyValue[] | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const kv of list ?? []) result[kv.key] = value(kv.value);
  return result;
}

const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('hex');
const nanos = (time: Long | number | undefined) => BigInt(String(time ?? 0));

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

function decode(body: Buffer, via: ReceivedSpan['via']): ReceivedSpan[] {
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

function decodeMetrics(body: Buffer, via: ReceivedMetric['via']): ReceivedMetric[] {
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
