// Runs in the export thread: sends spans, metrics or logs over the OTLP protocol configured for each,
// and turns a failing collector into one explained line, not a line per batch and never a crash.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { ExportResult } from '@opentelemetry/core';
import {
  createOtlpNetworkExportDelegate,
  ExporterMetrics,
  getSharedConfigurationDefaults,
  OTLPExporterBase,
} from '@opentelemetry/otlp-exporter-base';
import {
  LogsExporterMetricsHelper,
  MetricsExporterMetricsHelper,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
} from '@opentelemetry/otlp-transformer';
import { build } from '../bundle/build-info.js';
import { isHttps } from '../config/readers.js';
import { holdsPrivateKey, redactEndpoint } from '../config/secrets.js';
import type { ExporterOptions, TlsFile, TlsFiles } from '../config/types.js';
import { reason, say, sayOnce, tlsReason } from '../log.js';
import { GrpcTransport } from './grpc.js';

export type Signal = 'spans' | 'metrics' | 'logs';

export interface OtlpExporter<T> {
  export(items: T, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

export function otlpExporter<T>(signal: Signal, options: ExporterOptions): OtlpExporter<T> {
  if (options.protocol === 'grpc') return grpcExporter(signal, options);
  const { url, headers, timeoutMillis, compression } = options;
  // Options given win over upstream's own reading of the variables, which the config read already;
  // agent options replace upstream's whole, its keep-alive included.
  const tls = isHttps(url) ? { httpAgentOptions: { keepAlive: true, ...tlsOptions(options.tls) } } : {};
  // Literal requires: the export thread's bundle carries every exporter, and loads the ones in use.
  const exporters: Record<Signal, () => new (options: object) => OtlpExporter<T>> = {
    spans: () => require('@opentelemetry/exporter-trace-otlp-proto').OTLPTraceExporter,
    metrics: () => require('@opentelemetry/exporter-metrics-otlp-proto').OTLPMetricExporter,
    logs: () => require('@opentelemetry/exporter-logs-otlp-proto').OTLPLogExporter,
  };
  const Exporter = exporters[signal]();
  return withoutHeaderVariables(() => new Exporter({ url, headers: { ...headers }, timeoutMillis, compression, ...tls }));
}

/**
 * The PEM files the config found, read; one that cannot be read is said by its variable and left out
 * (an https:// collector is then trusted by the system's authorities, as without the variable).
 */
function tlsOptions(files: TlsFiles): SecureContextOptions {
  const read = (file: TlsFile | undefined) => {
    if (!file) return undefined;
    try {
      return readFileSync(resolvePath(process.cwd(), file.path));
    } catch (error) {
      // A key's variable may hold the key itself (base64, say), where a path belongs: its value is not shown.
      const named = holdsPrivateKey(file.variable) ? `the file ${file.variable} names` : `${file.variable}="${file.path}"`;
      sayOnce(`cannot read ${named} (${(error as NodeJS.ErrnoException).code ?? reason(error)}); the exporter goes on without it`);
      return undefined;
    }
  };
  const ca = read(files.certificate);
  const key = read(files.clientKey);
  const cert = read(files.clientCertificate);
  if (!key || !cert) return ca ? { ca } : {};
  try {
    createSecureContext({ key, cert });
  } catch (error) {
    // Said here, once, rather than as every export's failure to start.
    const { clientKey, clientCertificate } = files as Required<TlsFiles>;
    sayOnce(
      `the files ${clientKey.variable} and ${clientCertificate.variable}="${clientCertificate.path}" name are not a key and its certificate (${tlsReason(error as Error)}); no client certificate is sent`,
    );
    return ca ? { ca } : {};
  }
  return { ...(ca ? { ca } : {}), key, cert };
}

/** Each signal's gRPC method, upstream's serializer and its self-observability helper and component type. */
const GRPC_SERVICES = {
  spans: {
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    serializer: ProtobufTraceSerializer,
    helper: TraceExporterMetricsHelper,
    componentType: 'otlp_grpc_span_exporter',
  },
  metrics: {
    path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
    serializer: ProtobufMetricsSerializer,
    helper: MetricsExporterMetricsHelper,
    componentType: 'otlp_grpc_metric_exporter',
  },
  logs: {
    path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
    serializer: ProtobufLogsSerializer,
    helper: LogsExporterMetricsHelper,
    componentType: 'otlp_grpc_log_exporter',
  },
} as const;

/** Upstream's exporter (its serialisation, concurrency limit and partial-success handling) on our gRPC transport (./grpc.ts). */
function grpcExporter<T>(signal: Signal, { url, headers, timeoutMillis, compression, tls }: ExporterOptions): OtlpExporter<T> {
  const service = GRPC_SERVICES[signal];
  const transport = new GrpcTransport({
    url,
    path: service.path,
    headers,
    compression,
    tls: isHttps(url) ? tlsOptions(tls) : {},
    userAgent: `@rustok/otel/${build?.version ?? 'source'}`,
  });
  const metrics = new ExporterMetrics({
    componentType: service.componentType,
    metricsHelper: service.helper as never,
    url,
    meterProvider: undefined,
    responseAttributesFromError: () => ({}),
  });
  const delegate = createOtlpNetworkExportDelegate(
    { ...getSharedConfigurationDefaults(), timeoutMillis },
    service.serializer as never,
    metrics,
    transport,
  );
  return new OTLPExporterBase(delegate) as unknown as OtlpExporter<T>;
}

/**
 * Upstream's HTTP exporters read the header variables as they are built and merge what they find
 * into the headers they are given, the entries the config reported and set aside included: they are
 * built without them. Compression and TLS files they are given, which wins over their own reading.
 */
function withoutHeaderVariables<T>(build: () => T): T {
  const set = Object.entries(process.env).filter(([name]) => /^OTEL_EXPORTER_OTLP_(\w+_)?HEADERS$/.test(name));
  for (const [name] of set) delete process.env[name];
  try {
    return build();
  } finally {
    for (const [name, value] of set) process.env[name] = value;
  }
}

/** Why a TCP connection to the collector fails, if it does: a refused port or an unknown host in a millisecond. */
export function connectionError({ url, timeoutMillis }: ExporterOptions): Promise<Error | undefined> {
  const { hostname, port, protocol } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) || (protocol === 'https:' ? 443 : 80) });
    socket.setTimeout(timeoutMillis, () => socket.destroy(new Error(`connect timed out after ${timeoutMillis} ms`)));
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', resolve);
  });
}

/** Why an export failed, in words that point at the fix. */
export function explain(error: unknown, options: ExporterOptions, signal: Signal = 'spans'): string {
  const code = (error as { code?: unknown })?.code;
  const text = `${reason(error)} ${code ?? ''}`;
  const port = new URL(options.url).port;
  if (code === 401 || code === 403 || code === 16 || code === 7) {
    return 'the collector refused the credentials; check the API key in OTEL_EXPORTER_OTLP_HEADERS';
  }
  if (code === 404 || code === 12) {
    const path = signal === 'spans' ? 'traces' : signal;
    return `nothing serves OTLP ${path} at that URL; OTEL_EXPORTER_OTLP_${path.toUpperCase()}_ENDPOINT is the full URL, ending in /v1/${path}`;
  }
  if (code === 413 || code === 8) {
    const batch = {
      spans: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
      logs: 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE',
      metrics: 'OTEL_METRIC_EXPORT_INTERVAL',
    }[signal];
    return `the collector refused a message this large; lower ${batch}, or raise the collector's limit (max_recv_msg_size_mib for gRPC)`;
  }
  if ((typeof code === 'number' && code >= 400 && code < 500) || code === 3) {
    return `the collector rejected the ${signal}; its own logs say why`;
  }
  // The specific causes first: TLS's before the handshake's failing at all.
  if (/self[- ]signed certificate|unable to (get|verify)|certificate (has expired|is not yet valid)|CERT_/i.test(text)) {
    return `the collector's certificate is not trusted here; set OTEL_EXPORTER_OTLP_CERTIFICATE to the file of the authority that signed it`;
  }
  if (/Hostname\/IP does not match/i.test(text)) {
    return `the collector's certificate is not for the endpoint's host; use the name it was issued to`;
  }
  if (/certificate required|alert bad certificate|alert handshake failure/i.test(text) && isHttps(options.url)) {
    return 'the collector asks for a client certificate; set OTEL_EXPORTER_OTLP_CLIENT_KEY and OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE';
  }
  if (/Connection dropped/.test(text) && isHttps(options.url)) {
    return 'the collector closed the connection; if it asks for a client certificate, check that OTEL_EXPORTER_OTLP_CLIENT_KEY and OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE are one it trusts';
  }
  if (/Connection dropped/.test(text)) return 'the collector closed the connection; its own logs say why';
  if (/wrong version number|EPROTO|SSL routines|TLS|handshake/i.test(text)) {
    return 'TLS failed: if the collector speaks plaintext, use http:// instead of https://';
  }
  if (options.protocol === 'grpc' && /Protocol error|RST_STREAM|HTTP status code|Received HTTP/i.test(text)) {
    return 'the endpoint does not speak gRPC; port 4318 is OTLP over HTTP (set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf) and 4317 gRPC';
  }
  if (options.protocol === 'http/protobuf' && /socket hang up|ECONNRESET|Parse Error|HPE_/i.test(text)) {
    return 'the endpoint does not speak OTLP over HTTP; port 4317 is gRPC (set OTEL_EXPORTER_OTLP_PROTOCOL=grpc) and 4318 HTTP';
  }
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo|Name resolution failed|DNS resolution failed/i.test(text)) {
    return 'the host name does not resolve; check the endpoint';
  }
  if (/ECONNREFUSED|connection refused/i.test(text)) {
    return `nothing accepts connections on port ${port} there; start the collector or fix the port (OTLP listens on 4317 for gRPC, 4318 for HTTP)`;
  }
  if (/timeout|DEADLINE_EXCEEDED|timed out/i.test(text)) {
    return `no answer within ${options.timeoutMillis} ms; the collector is overloaded or not an OTLP endpoint`;
  }
  return 'check that the endpoint is an OTLP collector for this protocol';
}

/** The exporters failing, by collector host: the first one there says so, for all of them. */
const failingCollectors = new Map<string, Set<CollectorExporter<unknown>>>();

/**
 * Exports batches and reports the first failure of a run of failed exports and the recovery after it,
 * with how many spans (log records, metric exports) were lost in between; the batches themselves are dropped.
 */
export class CollectorExporter<T = import('@opentelemetry/sdk-trace-base').ReadableSpan[]> {
  private readonly inner: OtlpExporter<T>;
  private droppedSinceFailure = 0;
  private failing = false;
  /** Whether this exporter printed the failure line (another signal to the same collector may have). */
  private reported = false;
  private answered = false;

  private readonly options: ExporterOptions;
  private readonly signal: Signal;

  constructor(options: ExporterOptions, signal: Signal = 'spans') {
    this.options = options;
    this.signal = signal;
    this.inner = otlpExporter(signal, options);
  }

  /**
   * Whether exporting is worth a try: known to work, or accepting connections. Refused connections
   * and unknown hosts are found in a millisecond this way, where an export would retry for seconds,
   * which at exit would hold the app's exit back for nothing.
   */
  async reachable(): Promise<boolean> {
    if (this.answered && !this.failing) return true;
    const error = await connectionError(this.options);
    if (error) this.failed(error, 0);
    return error === undefined;
  }

  /** Counts what never reached the collector, so the recovery line reports it too. */
  dropped(count: number): void {
    this.droppedSinceFailure += count;
  }

  /** `count`: how many spans (log records, metric exports) are lost if this fails. */
  export(items: T, count: number, done: (result: ExportResult) => void): void {
    this.inner.export(items, (result) => {
      this.answered = true;
      if (result.code === 0) this.succeeded();
      else this.failed(result.error, count);
      done(result);
    });
  }

  private failed(error: unknown, count: number): void {
    this.droppedSinceFailure += count;
    if (this.failing) return;
    this.failing = true;
    const { protocol, url } = this.options;
    const host = new URL(url).host;
    const failingHere = failingCollectors.get(host) ?? new Set();
    failingCollectors.set(host, failingHere);
    failingHere.add(this);
    if (failingHere.size > 1) return;
    this.reported = true;
    // An HTTP collector says why in the body; a line of it is worth more than the status text.
    const body = String((error as { data?: unknown })?.data ?? '')
      .split('\n')[0]
      ?.slice(0, 200);
    const what = body ? `${reason(error)} (${body})` : reason(error);
    const { signal } = this;
    say(
      `cannot export ${signal} to ${protocol} ${redactEndpoint(url)}: ${what}; ${explain(error, this.options, signal)}. The app is unaffected; ${signal} are dropped until the collector answers`,
    );
  }

  private succeeded(): void {
    if (!this.failing) return;
    const { protocol, url } = this.options;
    const failingHere = failingCollectors.get(new URL(url).host);
    failingHere?.delete(this);
    this.failing = false;
    if (!this.reported) {
      this.droppedSinceFailure = 0;
      return;
    }
    this.reported = false;
    // The others' failures were covered by this one's line; if theirs go on, they now say so themselves.
    for (const other of failingHere ?? []) other.forgetFailure();
    failingHere?.clear();
    const [what, one, many] = {
      spans: ['', 'span was', 'spans were'],
      metrics: ['metrics ', 'metric export was', 'metric exports were'],
      logs: ['logs ', 'log record was', 'log records were'],
    }[this.signal];
    const lost = this.droppedSinceFailure;
    say(`exporting ${what}to ${protocol} ${redactEndpoint(url)} again; ${lost} ${lost === 1 ? one : many} dropped meanwhile`);
    this.droppedSinceFailure = 0;
  }

  private forgetFailure(): void {
    this.failing = false;
    this.droppedSinceFailure = 0;
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
