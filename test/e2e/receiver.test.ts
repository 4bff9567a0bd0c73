// Log records over OTLP, sent by the OpenTelemetry log exporters as an app's SDK would: the receiver
// decodes them over gRPC and HTTP/protobuf, and `rustok-otel dev` (run from source) prints them in
// their trace's waterfall.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { type Context, ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  type LogRecordExporter,
  type ReadableLogRecord,
  SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ROOT, startCommand, stopApps, WAIT_MS } from '../helpers/app.js';
import { type ReceivedLog, type Receiver, startReceiver } from '../helpers/receiver.js';

const PROTOCOLS = ['grpc', 'http/protobuf'] as const;
type Protocol = (typeof PROTOCOLS)[number];

function logExporter(protocol: Protocol, urls: { grpcUrl: string; httpUrl: string }): LogRecordExporter {
  return protocol === 'grpc'
    ? new GrpcLogExporter({ url: urls.grpcUrl, timeoutMillis: 5000 })
    : new ProtoLogExporter({ url: `${urls.httpUrl}/v1/logs`, timeoutMillis: 5000 });
}

/** Sends `records` in one export; resolves with whether the receiver took them. */
async function send(exporter: LogRecordExporter, records: readonly ReadableLogRecord[]): Promise<boolean> {
  const result = await new Promise<{ code: ExportResultCode }>((resolve) => exporter.export([...records], resolve));
  return result.code === ExportResultCode.SUCCESS;
}

/** What an app's logger emits, kept as the SDK hands it to an exporter. */
function recorder(resource: Record<string, string>, limits = {}) {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes(resource),
    logRecordLimits: limits,
    processors: [new SimpleLogRecordProcessor({ exporter: memory })],
  });
  return { memory, provider };
}

const inSpan = (traceId: string, spanId: string): Context =>
  trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: false });

describe('the receiver decodes log records', () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());
  afterEach(() => receiver.setFault(undefined));

  const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
  const SPAN_ID = '00f067aa0ba902b7';

  /** Three records: one in a span with attributes of every type, one in no trace with a map body, one with bytes and dropped attributes. */
  function records(): ReadableLogRecord[] {
    const app = recorder({ 'service.name': 'receiver-logs', 'service.version': '1.0.0' });
    app.provider.getLogger('receiver-test', '1.2.3').emit({
      timestamp: 1_700_000_000_123,
      observedTimestamp: 1_700_000_000_456,
      severityNumber: SeverityNumber.ERROR,
      severityText: 'ERROR',
      body: 'payment declined',
      eventName: 'payment.declined',
      context: inSpan(TRACE_ID, SPAN_ID),
      attributes: {
        string: 'text',
        int: 42,
        double: 1.5,
        bool: true,
        strings: ['a', 'b'],
        ints: [1, 2, 3],
        bools: [true, false],
        map: { nested: 'value', count: 7, deeper: { ok: true } },
        bytes: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
      },
    });
    app.provider.getLogger('receiver-test', '1.2.3').emit({
      timestamp: 1_700_000_000_789,
      severityNumber: SeverityNumber.INFO,
      severityText: 'INFO',
      body: { order: 42, items: ['x', 'y'], paid: false, total: 9.5, customer: { id: 'c-1' } },
      context: ROOT_CONTEXT,
    });
    const limited = recorder({ 'service.name': 'receiver-limited' }, { attributeCountLimit: 1 });
    limited.provider
      .getLogger('limited')
      .emit({ body: new Uint8Array([1, 2, 3]), attributes: { a: 1, b: 2, c: 3 }, context: ROOT_CONTEXT });
    return [...app.memory.getFinishedLogRecords(), ...limited.memory.getFinishedLogRecords()];
  }

  for (const protocol of PROTOCOLS) {
    it(`over ${protocol}: body text, map and bytes, severity, attributes of every type, trace and span IDs, scope, resource`, async () => {
      const via = protocol === 'grpc' ? 'grpc' : 'http';
      const exporter = logExporter(protocol, receiver);
      try {
        assert.equal(await send(exporter, records()), true, 'the receiver took the export');
        const all = await receiver.waitForLogs((logs) => logs.filter((log) => log.via === via).length >= 3);
        const [inTrace, traceless, limited] = all.filter((log) => log.via === via) as [ReceivedLog, ReceivedLog, ReceivedLog];

        assert.deepEqual(inTrace, {
          traceId: TRACE_ID,
          spanId: SPAN_ID,
          timeNanos: 1_700_000_000_123_000_000n,
          observedNanos: 1_700_000_000_456_000_000n,
          severityNumber: 17,
          severityText: 'ERROR',
          body: 'payment declined',
          attributes: {
            string: 'text',
            int: 42,
            double: 1.5,
            bool: true,
            strings: ['a', 'b'],
            ints: [1, 2, 3],
            bools: [true, false],
            map: { nested: 'value', count: 7, deeper: { ok: true } },
            bytes: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
          },
          resource: { 'service.name': 'receiver-logs', 'service.version': '1.0.0' },
          scope: { name: 'receiver-test', version: '1.2.3' },
          eventName: 'payment.declined',
          droppedAttributesCount: 0,
          flags: 1,
          via,
        });

        assert.deepEqual(
          [traceless.traceId, traceless.spanId, traceless.flags, traceless.severityNumber, traceless.severityText, traceless.eventName],
          ['', '', 0, 9, 'INFO', ''],
        );
        assert.deepEqual(traceless.body, { order: 42, items: ['x', 'y'], paid: false, total: 9.5, customer: { id: 'c-1' } });
        assert.equal(traceless.timeNanos, 1_700_000_000_789_000_000n);
        assert.ok(traceless.observedNanos > 0n, 'the SDK stamps when it observed the record');
        assert.deepEqual(traceless.attributes, {});

        assert.deepEqual(limited.body, Buffer.from([1, 2, 3]));
        assert.deepEqual(limited.attributes, { a: 1 });
        assert.equal(limited.droppedAttributesCount, 2);
        assert.deepEqual([limited.severityNumber, limited.severityText], [0, '']);
        assert.deepEqual(limited.scope, { name: 'limited', version: '' });
        assert.deepEqual(limited.resource, { 'service.name': 'receiver-limited' });
      } finally {
        await exporter.shutdown();
      }
    });

    it(`over ${protocol}: a reject fault refuses log exports, counts them, and keeps nothing; then it takes them again`, async () => {
      const via = protocol === 'grpc' ? 'grpc' : 'http';
      const exporter = logExporter(protocol, receiver);
      try {
        const before = receiver.logs.length;
        const refused = receiver.refusedExports();
        receiver.setFault('reject');
        assert.equal(await send(exporter, records()), false, 'the exporter saw the export fail');
        await receiver.waitForRefused(refused + 1);
        assert.equal(receiver.logs.length, before, 'nothing of a refused export is kept');

        receiver.setFault(undefined);
        assert.equal(await send(exporter, records()), true);
        await receiver.waitForLogs((logs) => logs.slice(before).filter((log) => log.via === via).length === 3);
      } finally {
        await exporter.shutdown();
      }
    });
  }

  it('says what it got when a wait for log records fails', async () => {
    await assert.rejects(
      receiver.waitForLogs(() => false, 50),
      /^Error: receiver: condition not met in 50 ms; got (no log records|\d+ log records: .+)$/,
    );
  });
});

describe("the benchmark's receiver, which decodes when read", () => {
  it('keeps what arrived undecoded until it is read or waited for, in the order it came', async () => {
    const receiver = await startReceiver({ decodeOnRead: true });
    after(() => receiver.close());
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: receiver.grpcUrl, timeoutMillis: 5000 }))],
    });
    const tracer = provider.getTracer('bench');
    tracer.startSpan('first').end();
    await provider.forceFlush();
    // Decoded on arrival, 'first' would have been told to no listener: it came before there was one.
    const told: string[] = [];
    receiver.onSpans((batch) => told.push(...batch.map((span) => span.name)));
    tracer.startSpan('second').end();
    await receiver.waitFor((spans) => spans.length === 2);
    assert.deepEqual(told, ['first', 'second']);
    assert.deepEqual(
      receiver.spans.map((span) => span.name),
      ['first', 'second'],
    );
    await provider.shutdown();
  });

  it('forgets what it received, decoded or not, and keeps what arrives after', async () => {
    const receiver = await startReceiver({ decodeOnRead: true });
    after(() => receiver.close());
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: receiver.grpcUrl, timeoutMillis: 5000 }))],
    });
    const tracer = provider.getTracer('bench');
    tracer.startSpan('decoded').end();
    await provider.forceFlush();
    assert.equal(receiver.spans.length, 1);
    tracer.startSpan('undecoded').end();
    await provider.forceFlush();
    receiver.forget();
    tracer.startSpan('after').end();
    await provider.forceFlush();
    assert.deepEqual(
      receiver.spans.map((span) => span.name),
      ['after'],
    );
    await provider.shutdown();
  });
});

describe('rustok-otel dev prints log records', () => {
  const files = mkdtempSync(join(tmpdir(), 'rustok-dev-logs-'));
  after(() => {
    stopApps();
    rmSync(files, { recursive: true, force: true });
  });

  it('in their trace under their span, by time; those in no trace on a line of their own, and late ones naming their trace', async () => {
    const jsonFile = join(files, 'traces.jsonl');
    // From source: dist/ is another build's.
    const dev = startCommand(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'dev', '--grpc-port', '0', '--http-port', '0', '--json-file', jsonFile],
      { preload: 'none', cwd: ROOT, env: { OTEL_ENABLED: undefined, OTEL_BSP_SCHEDULE_DELAY: undefined } },
    );
    const [, grpcUrl = '', httpUrl = ''] = await dev.waitForStdout(
      /OTLP gRPC on (http:\/\/127\.0\.0\.1:\d+), HTTP on (http:\/\/127\.0\.0\.1:\d+);/,
    );

    // A request: GET /checkout (0-100 ms) and its child charge (10-20 ms), at known times.
    const T = Date.now() - 1000;
    const spanMemory = new InMemorySpanExporter();
    const resource = resourceFromAttributes({ 'service.name': 'dev-logs' });
    const tracer = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(spanMemory)] }).getTracer('dev-test');
    const root = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, startTime: T }, ROOT_CONTEXT);
    const rootContext = trace.setSpan(ROOT_CONTEXT, root);
    const child = tracer.startSpan('charge', { startTime: T + 10 }, rootContext);
    child.end(T + 20);
    root.end(T + 100);
    const { traceId } = root.spanContext();
    const spans: ReadableSpan[] = spanMemory.getFinishedSpans();

    const app = recorder({ 'service.name': 'dev-logs' });
    const logger = app.provider.getLogger('dev-test');
    logger.emit({
      timestamp: T + 60,
      severityText: 'WARN',
      severityNumber: 13,
      body: { order: 42, reason: 'declined' },
      context: rootContext,
    });
    logger.emit({
      timestamp: T + 15,
      severityText: 'ERROR',
      severityNumber: 17,
      body: 'payment declined',
      context: trace.setSpan(ROOT_CONTEXT, child),
    });
    logger.emit({ timestamp: T + 5, severityText: 'INFO', severityNumber: 9, body: 'checkout started', context: rootContext });
    logger.emit({
      timestamp: T + 90,
      severityText: 'INFO',
      severityNumber: 9,
      body: 'in a span that never arrives',
      context: inSpan(traceId, '1111111111111111'),
    });
    logger.emit({ timestamp: T, severityText: 'WARN', severityNumber: 13, body: 'cache cold', context: ROOT_CONTEXT });
    const onlyLogs = randomBytes(16).toString('hex');
    logger.emit({
      timestamp: T,
      severityText: 'DEBUG',
      severityNumber: 5,
      body: 'sampled out',
      context: inSpan(onlyLogs, '2222222222222222'),
    });

    // The log records first, as an app sends them (its log batch delay is shorter than its span one).
    const logs = logExporter('http/protobuf', { grpcUrl, httpUrl });
    const spanExporter = new OTLPTraceExporter({ url: grpcUrl, timeoutMillis: 5000 });
    try {
      assert.equal(await send(logs, app.memory.getFinishedLogRecords()), true);
      // At once, on a line of its own.
      await dev.waitForStdout(/^log {2}WARN {2}dev-logs {2}cache cold$/m);
      assert.doesNotMatch(dev.stdout(), new RegExp(`trace ${traceId}`), 'a trace with log records only waits for its spans');

      const exported = await new Promise<{ code: ExportResultCode }>((resolve) => spanExporter.export(spans, resolve));
      assert.equal(exported.code, ExportResultCode.SUCCESS);
      await dev.waitForStdout(new RegExp(`^trace ${traceId} {2}dev-logs {2}2 spans {2}100\\.0 ms {2}4 logs$`, 'm'));
      const output = dev.stdout();
      const block =
        output
          .slice(output.indexOf(`trace ${traceId}`))
          .split('\n\n')[0]
          ?.split('\n') ?? [];
      assert.equal(block.length, 7, block.join('\n'));
      assert.match(block[1] ?? '', /^ {2}GET \/checkout +server +[█ ]+ +100\.0 ms$/);
      assert.equal(block[2], '    · +5.0 ms  INFO  checkout started');
      assert.match(block[3] ?? '', /^ {4}charge +internal +[█ ]+ +10\.0 ms$/);
      assert.equal(block[4], '      · +15.0 ms  ERROR  payment declined');
      assert.equal(block[5], '    · +60.0 ms  WARN  {"order":42,"reason":"declined"}');
      assert.equal(block[6], '  · +90.0 ms  INFO  in a span that never arrives');

      // After its trace was printed, a record of it goes on a line of its own, naming it.
      app.memory.reset();
      logger.emit({ timestamp: T + 200, severityText: 'INFO', severityNumber: 9, body: 'late', context: rootContext });
      assert.equal(await send(logs, app.memory.getFinishedLogRecords()), true);
      await dev.waitForStdout(new RegExp(`^log {2}INFO {2}dev-logs {2}late {2}\\(trace ${traceId}\\)$`, 'm'));

      // A trace whose spans never come is printed all the same, a few seconds later.
      await dev.waitForStdout(
        new RegExp(`^trace ${onlyLogs} {2}dev-logs {2}no spans {2}1 log\\n {2}· \\+0\\.0 ms {2}DEBUG {2}sampled out$`, 'm'),
        WAIT_MS,
      );
    } finally {
      await Promise.all([logs.shutdown(), spanExporter.shutdown()]);
    }

    const lines = readFileSync(jsonFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(lines.length, 4, JSON.stringify(lines, null, 2));
    const [cacheCold, traceLine, late, logsOnly] = lines;
    assert.deepEqual(Object.keys(cacheCold), ['service', 'log']);
    assert.equal(cacheCold.service, 'dev-logs');
    assert.deepEqual(
      [cacheCold.log.severityText, cacheCold.log.severityNumber, cacheCold.log.body, cacheCold.log.timeUnixNano],
      ['WARN', 13, 'cache cold', `${BigInt(T) * 1_000_000n}`],
    );
    assert.deepEqual([traceLine.traceId, traceLine.service, traceLine.spans.length], [traceId, 'dev-logs', 2]);
    assert.deepEqual(
      traceLine.logs.map((log: { body: unknown; spanId?: string }) => [log.body, log.spanId]),
      [
        ['checkout started', root.spanContext().spanId],
        ['payment declined', child.spanContext().spanId],
        [{ order: 42, reason: 'declined' }, root.spanContext().spanId],
        ['in a span that never arrives', '1111111111111111'],
      ],
    );
    assert.deepEqual(traceLine.logs[0].scope, { name: 'dev-test', version: '' });
    assert.deepEqual([late.traceId, late.log.body], [traceId, 'late']);
    assert.deepEqual([logsOnly.traceId, logsOnly.spans, logsOnly.logs.length], [onlyLogs, [], 1]);
  });
});
