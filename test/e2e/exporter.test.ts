import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, describe, it } from 'node:test';
import { ourLines, startApp } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import { closedPort } from '../helpers/target.js';

const fixture = useFixture();

/** The exporter module as the export thread runs it: CommonJS, where each protocol's exporter is loaded with `require` when chosen. */
function exporterModule(): typeof import('../../src/export/exporter.js') {
  return createRequire(import.meta.url)('../../src/export/exporter.ts');
}

describe('when the collector is unreachable', () => {
  it('keeps serving, says so once, and still exits by the signal', async () => {
    const port = await closedPort();
    const app = startApp('server.cjs', {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, NODE_OPTIONS: '--unhandled-rejections=strict' },
    });
    assert.equal((await app.get('/hello')).status, 200);
    await app.waitForStderr(/cannot export spans/);
    // Failing from here: the spans of these are tried at the latest by the flush the signal starts, so the
    // end of the process, not a pause, proves that their failures went unsaid.
    for (let i = 0; i < 4; i++) assert.equal((await app.get('/hello')).status, 200);
    process.kill(app.pid, 'SIGTERM');
    assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' });
    const lines = ourLines(app.stderr());
    assert.equal(lines.length, 2, app.stderr());
    assert.match(
      lines[1] ?? '',
      new RegExp(
        `^cannot export spans to grpc http://127.0.0.1:${port}: .*ECONNREFUSED.*nothing accepts connections on port ${port} there; start the collector or fix the port`,
      ),
    );
    assert.equal(
      app
        .stdout()
        .split('\n')
        .filter((line) => line && !line.startsWith('listening')).length,
      0,
      'nothing on stdout',
    );
  });

  for (const protocol of ['grpc', 'http/protobuf'] as const) {
    it(`says once when ${protocol} export fails, and once when it recovers with the number of spans dropped`, async () => {
      fixture.receiver.setFault('reject');
      after(() => fixture.receiver.setFault(undefined));
      const service = `recovers-${protocol}`;
      const refusedBefore = fixture.receiver.refusedExports();
      // One export per request, its three spans handed over as the last one ends (and no metrics export):
      // the receiver's count of failed exports proves the second was rejected before the fault is lifted.
      const app = startApp('server.cjs', {
        receiver: fixture.receiver,
        protocol,
        env: {
          OTEL_SERVICE_NAME: service,
          OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '3',
          OTEL_BSP_SCHEDULE_DELAY: '600000',
          OTEL_METRICS_EXPORTER: 'none',
        },
      });
      await app.get('/hello');
      await app.waitForStderr(/cannot export spans/);
      await app.get('/hello');
      await fixture.receiver.waitForRefused(refusedBefore + 2);
      fixture.receiver.setFault(undefined);
      await app.get('/hello');
      await fixture.receiver.waitFor((spans) => spans.some((span) => span.resource['service.name'] === service));
      await app.waitForStderr(/again/);
      const lines = ourLines(app.stderr());
      assert.equal(lines.length, 3, app.stderr());
      assert.match(
        lines[1] ?? '',
        protocol === 'grpc'
          ? /^cannot export spans to .*rejected by the test; the collector rejected the spans/
          : /^cannot export spans to .*Bad Request \(rejected by the test\); the collector rejected the spans/,
      );
      assert.match(lines[2] ?? '', /^exporting to .* again; 6 spans were dropped meanwhile$/);
    });
  }
});

describe('common misconfigurations', () => {
  const cases: [string, () => Record<string, string>, RegExp][] = [
    [
      'gRPC sent to the HTTP port',
      () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.httpUrl }),
      /Protocol error.*; the endpoint does not speak gRPC; port 4318 is OTLP over HTTP \(set OTEL_EXPORTER_OTLP_PROTOCOL=http\/protobuf\)/,
    ],
    [
      'HTTP sent to the gRPC port',
      () => ({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.grpcUrl }),
      /; the endpoint does not speak OTLP over HTTP; port 4317 is gRPC \(set OTEL_EXPORTER_OTLP_PROTOCOL=grpc\)/,
    ],
    [
      'https:// to a plaintext gRPC collector',
      () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.grpcUrl.replace('http:', 'https:') }),
      // Which TLS error gRPC names last varies: Node 24 also refuses an IP address as the TLS server name.
      /(wrong version number|TLS ServerName to an IP address).*; TLS failed: if the collector speaks plaintext, use http:\/\/ instead of https:\/\//,
    ],
    [
      'https:// to a plaintext HTTP collector',
      () => ({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.httpUrl.replace('http:', 'https:'),
      }),
      /; TLS failed: if the collector speaks plaintext, use http:\/\/ instead of https:\/\//,
    ],
    [
      'a host name that does not resolve',
      () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://no-such-host.invalid:4317' }),
      /ENOTFOUND no-such-host\.invalid; the host name does not resolve; check the endpoint\./,
    ],
  ];
  for (const [label, env, expected] of cases) {
    it(`explains ${label} in one line, and the app is unaffected`, async () => {
      const app = startApp('script.cjs', { env: { ...env(), TARGET_URL: fixture.target.url } });
      assert.deepEqual(await app.exited, { code: 0, signal: null });
      assert.match(app.stdout(), /script done/);
      const lines = ourLines(app.stderr());
      assert.equal(lines.length, 2, app.stderr());
      assert.match(lines[1] ?? '', /^cannot export spans to /);
      assert.match(lines[1] ?? '', expected);
    });
  }
});

describe('a collector that is slow or overloaded', () => {
  it('bounds the queue while the collector never answers: spans beyond it are dropped, said once, and the app keeps serving', async () => {
    fixture.receiver.setFault('hang');
    after(() => fixture.receiver.setFault(undefined));
    const app = startApp('server.cjs', {
      receiver: fixture.receiver,
      protocol: 'http/protobuf',
      env: { OTEL_BSP_MAX_QUEUE_SIZE: '20', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '5', OTEL_SHUTDOWN_TIMEOUT_MS: '500' },
    });
    for (let i = 0; i < 20; i++) assert.equal((await app.get('/hello')).status, 200);
    await app.waitForStderr(/export queue is full/);
    for (let i = 0; i < 10; i++) assert.equal((await app.get('/hello')).status, 200);
    process.kill(app.pid, 'SIGTERM');
    assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' });
    const full = ourLines(app.stderr()).filter((line) => line.includes('queue is full'));
    assert.deepEqual(full, [
      'the export queue is full (OTEL_BSP_MAX_QUEUE_SIZE=20); spans are dropped until it drains. Raise it, or sample less',
    ]);
  });

  it('keeps the app serving while the collector answers UNAVAILABLE, and says so once', async () => {
    fixture.receiver.setFault('unavailable');
    after(() => fixture.receiver.setFault(undefined));
    const app = startApp('server.cjs', { receiver: fixture.receiver, env: { OTEL_EXPORTER_OTLP_TIMEOUT: '1500' } });
    for (let i = 0; i < 3; i++) assert.equal((await app.get('/hello')).status, 200);
    await app.waitForStderr(/cannot export/);
    for (let i = 0; i < 3; i++) assert.equal((await app.get('/hello')).status, 200);
    process.kill(app.pid, 'SIGTERM');
    assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' });
    const lines = ourLines(app.stderr());
    assert.equal(lines.length, 2, app.stderr());
    assert.match(lines[1] ?? '', /UNAVAILABLE: overloaded, says the test/);
  });
});

describe('one line per collector, whichever signals fail there', () => {
  it('reports a failure hidden behind another signal’s once that signal recovers', { timeout: 30_000 }, async () => {
    const { BasicTracerProvider } = await import('@opentelemetry/sdk-trace-base');
    const { resourceFromAttributes } = await import('@opentelemetry/resources');
    const { CollectorExporter } = exporterModule();
    const ended: import('@opentelemetry/sdk-trace-base').ReadableSpan[] = [];
    const provider = new BasicTracerProvider({
      spanProcessors: [{ onStart() {}, onEnd: (span) => ended.push(span), forceFlush: async () => {}, shutdown: async () => {} }],
    });
    provider.getTracer('test').startSpan('one').end();
    const options = { protocol: 'http/protobuf' as const, headers: {}, timeoutMillis: 2000, compression: 'none' as const, tls: {} };
    const spans = new CollectorExporter({ ...options, url: `${fixture.receiver.httpUrl}/v1/traces` }, 'spans');
    // Same collector, a path it does not serve: metrics fail for as long as the test runs.
    const metrics = new CollectorExporter<import('@opentelemetry/sdk-metrics').ResourceMetrics>(
      { ...options, url: `${fixture.receiver.httpUrl}/v1/nothing` },
      'metrics',
    );
    const collection = { resource: resourceFromAttributes({}), scopeMetrics: [] };
    const { said, restore } = captureOurLines();
    const exportSpans = () => new Promise((resolve) => spans.export(ended, 1, resolve));
    const exportMetrics = () => new Promise((resolve) => metrics.export(collection, 1, resolve));
    try {
      fixture.receiver.setFault('reject');
      await exportSpans();
      await exportMetrics();
      assert.equal(said.length, 1, said.join('\n'));
      assert.match(said[0] ?? '', /^cannot export spans to http\/protobuf .*\/v1\/traces: Bad Request/);

      fixture.receiver.setFault(undefined);
      await exportSpans();
      await exportMetrics();
      assert.equal(said.length, 3, said.join('\n'));
      assert.match(said[1] ?? '', /^exporting to http\/protobuf .* again; 1 span was dropped meanwhile$/);
      assert.match(said[2] ?? '', /^cannot export metrics to http\/protobuf .*\/v1\/nothing: .*nothing serves OTLP metrics at that URL/);
    } finally {
      restore();
      fixture.receiver.setFault(undefined);
      await Promise.all([spans.shutdown(), metrics.shutdown()]);
    }
  });
});

describe('the endpoint in its lines', () => {
  it('is shown without its userinfo, query string and fragment, by the exporter itself', async () => {
    const { CollectorExporter } = exporterModule();
    const port = await closedPort();
    const exporter = new CollectorExporter({
      protocol: 'http/protobuf',
      url: `http://us3r:p4ss@127.0.0.1:${port}/v1/traces?api_key=qu3ry#fr4g`,
      headers: {},
      timeoutMillis: 2000,
      compression: 'none',
      tls: {},
    });
    const { said, restore } = captureOurLines();
    try {
      assert.equal(await exporter.reachable(), false);
    } finally {
      restore();
      await exporter.shutdown();
    }
    assert.equal(said.length, 1, said.join('\n'));
    assert.match(
      said[0] ?? '',
      new RegExp(`^cannot export spans to http/protobuf http://\\*\\*\\*@127\\.0\\.0\\.1:${port}/v1/traces\\?\\*\\*\\*#\\*\\*\\*: `),
    );
    for (const secret of ['us3r', 'p4ss', 'qu3ry', 'fr4g']) assert.ok(!said[0]?.includes(secret), said[0]);
  });
});

/** Our lines on stderr from now until `restore()`, kept from the test's output. */
function captureOurLines(): { said: string[]; restore(): void } {
  const said: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((text: string) => {
    said.push(...ourLines(String(text)));
    return true;
  }) as typeof process.stderr.write;
  return {
    said,
    restore: () => {
      process.stderr.write = write;
    },
  };
}
