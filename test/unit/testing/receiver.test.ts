// The test receiver fed by the OpenTelemetry SDK's own OTLP/gRPC exporters, as a service's would be.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startTestReceiver, type TestReceiver } from '../../../src/testing/receiver.js';

const resource = resourceFromAttributes({ 'service.name': 'orders' });

let receiver: TestReceiver;
let tracerProvider: BasicTracerProvider;
let meterProvider: MeterProvider;
let loggerProvider: LoggerProvider;
before(async () => {
  receiver = await startTestReceiver();
  const url = receiver.endpoint;
  tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url }))] });
  meterProvider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url }), exportIntervalMillis: 3_600_000 })],
  });
  loggerProvider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url }) })] });
});
after(async () => {
  await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown(), loggerProvider.shutdown()]);
  await receiver.close();
});
afterEach(() => receiver.reset());

const tracer = () => tracerProvider.getTracer('test');

/** A server span with a child, exported as soon as each ends. */
function request(route: string, status: number): void {
  const server = tracer().startSpan(`GET ${route}`, {
    kind: SpanKind.SERVER,
    attributes: { 'http.route': route, 'http.response.status_code': status },
  });
  const child = tracer().startSpan('load order', {}, trace.setSpan(ROOT_CONTEXT, server));
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'not found' });
  child.end();
  server.end();
}

describe('waiting for spans', () => {
  it('resolves with the spans that arrived before the call and waits for those to come', async () => {
    request('/orders/:id', 200);
    const [server] = await receiver.spans({ name: 'GET /orders/:id', kind: 'server', attributes: { 'http.response.status_code': 200 } });
    assert.equal(server?.resource['service.name'], 'orders');
    assert.equal(server?.parentSpanId, '');
    const [child] = await receiver.spans({ parentSpanId: server?.spanId, traceId: server?.traceId });
    assert.equal(child?.name, 'load order');
    assert.equal(child?.kind, 'internal');
    assert.deepEqual(child?.status, { code: 'error', message: 'not found' });
    assert.ok(child.endTimeUnixNano >= child.startTimeUnixNano);

    const later = receiver.spans({ name: 'GET /later', service: 'orders' });
    request('/later', 200);
    assert.equal((await later).length, 1);
  });

  it('waits until count of them arrived, and resolves with all that match', async () => {
    const three = receiver.spans({ name: /^GET /, kind: 'server' }, { count: 3 });
    for (let n = 0; n < 3; n++) request(`/n/${n}`, 200);
    assert.deepEqual((await three).map((span) => span.name).sort(), ['GET /n/0', 'GET /n/1', 'GET /n/2']);
  });

  it('rejects after timeoutMs saying what it expected and what came, from the line that waited', async () => {
    request('/orders/:id', 500);
    await assert.rejects(
      receiver.spans({ name: 'GET /orders/:id', attributes: { 'http.response.status_code': 200 } }, { timeoutMs: 300 }),
      (error: Error) => {
        assert.equal(
          error.message,
          [
            "receiver.spans(): expected at least 1 span matching { name: 'GET /orders/:id', attributes: { 'http.response.status_code': 200 } } within 300 ms, but none of the 2 received matched.",
            'With that name:',
            "  1 × 'GET /orders/:id' (server): attributes['http.response.status_code'] is 500, not 200",
            "Other names: 1 × 'load order' (internal)",
          ].join('\n'),
        );
        assert.match(error.stack ?? '', /receiver\.test\.ts/);
        return true;
      },
    );
  });

  it('forgets what arrived on reset', async () => {
    request('/orders/:id', 200);
    await receiver.spans({ name: 'GET /orders/:id' });
    receiver.reset();
    await assert.rejects(receiver.spans({ name: 'GET /orders/:id' }, { timeoutMs: 200 }), /but no spans arrived/);
  });

  it('fails the wait with the error a where() throws, and still takes the export that brought the span', async () => {
    const throwing = receiver.spans({ where: (span) => (span.attributes['order.id'] as string).startsWith('4') }, { timeoutMs: 5000 });
    request('/orders/:id', 200);
    await assert.rejects(throwing, TypeError);
    await receiver.spans({ name: 'GET /orders/:id' }, { timeoutMs: 5000 });
  });

  it('rejects a wait that cannot be meant', async () => {
    await assert.rejects(receiver.spans({ kind: 'SERVER' as 'server' }), TypeError);
    await assert.rejects(receiver.spans({}, { count: 1.5 }), new RangeError('receiver.spans(): count 1.5 is not a whole number ≥ 0'));
    await assert.rejects(receiver.logs({}, { timeoutMs: 0 }), /timeoutMs 0 is not between 1 and 2147483647/);
  });
});

describe('waiting for metrics and logs', () => {
  it('resolves with the data points of a metric whose attributes match', async () => {
    const duration = meterProvider.getMeter('test').createHistogram('http.server.request.duration', { unit: 's' });
    duration.record(0.02, { 'http.route': '/orders/:id', 'http.response.status_code': 200 });
    duration.record(0.04, { 'http.route': '/orders/:id', 'http.response.status_code': 200 });
    duration.record(0.5, { 'http.route': '/health', 'http.response.status_code': 200 });
    await meterProvider.forceFlush();
    const points = await receiver.metrics({ name: 'http.server.request.duration', attributes: { 'http.route': '/orders/:id' } });
    assert.equal(points.length, 1);
    assert.equal(points[0]?.type, 'histogram');
    assert.equal(points[0]?.unit, 's');
    assert.equal(points[0]?.count, 2);
    assert.ok(Math.abs((points[0]?.sum ?? 0) - 0.06) < 1e-9);
    assert.equal(points[0]?.value, undefined);
  });

  it('resolves with the log records whose body, severity and attributes match', async () => {
    const logger = loggerProvider.getLogger('test');
    logger.emit({ body: 'order placed', severityNumber: SeverityNumber.INFO, severityText: 'info', attributes: { 'order.id': 'o-1' } });
    logger.emit({ body: 'order failed', severityNumber: SeverityNumber.ERROR, severityText: 'error' });
    const [placed] = await receiver.logs({ body: /placed/, severityText: 'info', attributes: { 'order.id': 'o-1' } });
    assert.equal(placed?.severityNumber, SeverityNumber.INFO);
    assert.equal(placed?.traceId, '');
    assert.equal((await receiver.logs({ severityNumber: SeverityNumber.ERROR })).length, 1);
  });
});

describe('the environment for a service under test', () => {
  it("replaces the test's own OTEL_* variables with those that send every signal here, soon", () => {
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = 'http://collector.ci:4318/v1/traces';
    process.env.OTEL_TRACES_SAMPLER = 'always_off';
    try {
      const env = receiver.env({ OTEL_SERVICE_NAME: 'orders', PATH: undefined });
      assert.deepEqual(
        Object.entries(env).filter(([name]) => name.startsWith('OTEL_')),
        [
          ['OTEL_ENABLED', 'true'],
          ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc'],
          ['OTEL_EXPORTER_OTLP_ENDPOINT', receiver.endpoint],
          ['OTEL_BSP_SCHEDULE_DELAY', '100'],
          ['OTEL_BLRP_SCHEDULE_DELAY', '100'],
          ['OTEL_METRIC_EXPORT_INTERVAL', '250'],
          ['OTEL_SERVICE_NAME', 'orders'],
        ],
      );
      assert.equal(env.HOME, process.env.HOME, 'the rest of the environment is kept');
      assert.equal('PATH' in env, false, 'undefined removes a variable');
      assert.match(receiver.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
      delete process.env.OTEL_TRACES_SAMPLER;
    }
  });
});

describe('starting and closing', () => {
  it('says so when the port it was given is taken', async () => {
    const port = Number(new URL(receiver.endpoint).port);
    await assert.rejects(
      startTestReceiver({ port }),
      new Error(`startTestReceiver(): port ${port} of 127.0.0.1 is taken; run the test files that listen there one at a time`),
    );
  });

  it('rejects the waits still pending', async () => {
    const closing = await startTestReceiver();
    const pending = closing.spans({ name: 'never' });
    await closing.close();
    await assert.rejects(pending, new Error("receiver.spans(): the receiver was closed while waiting for 1 matching { name: 'never' }"));
    await assert.rejects(closing.logs(), new Error('receiver.logs(): the receiver is closed'));
  });
});
