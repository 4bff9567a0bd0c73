// RED and runtime metrics from the preload, checked at the other end: decoded by the OTLP receiver,
// or scraped from the Prometheus endpoint.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, get } from 'node:http';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { fixtureDir, ourLines, startApp, WAIT_MS } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import type { ReceivedMetric } from '../helpers/receiver.js';
import { closedPort } from '../helpers/target.js';

const fixture = useFixture();

const ofService = (name: string) => (metrics: readonly ReceivedMetric[]) =>
  metrics.filter((metric) => metric.resource['service.name'] === name);
/** The latest export's data points of a metric: cumulative, so the last one holds the totals. */
const latest = (metrics: readonly ReceivedMetric[], name: string) => metrics.filter((metric) => metric.name === name).at(-1);
const count = (metric: ReceivedMetric | undefined, status: number) =>
  metric?.points.find((point) => point.attributes['http.response.status_code'] === status)?.count ?? 0;

describe('metrics over OTLP', () => {
  for (const protocol of ['grpc', 'http/protobuf'] as const) {
    it(`exports the HTTP duration histograms and the runtime metrics over ${protocol}`, async () => {
      const service = `metrics-${protocol.replace('/', '-')}`;
      const app = startApp('server.cjs', {
        receiver: fixture.receiver,
        protocol,
        env: { OTEL_SERVICE_NAME: service, OTEL_METRIC_EXPORT_INTERVAL: '300' },
      });
      for (let n = 0; n < 3; n++) assert.equal((await app.get('/hello')).status, 200);
      assert.equal((await app.get('/boom')).status, 500);

      const mine = () => ofService(service)(fixture.receiver.metrics);
      await fixture.receiver.waitForMetrics(() => {
        const server = latest(mine(), 'http.server.request.duration');
        return count(server, 200) >= 6 && count(server, 500) >= 1 && latest(mine(), 'nodejs.eventloop.delay.p99') !== undefined;
      });
      const server = latest(mine(), 'http.server.request.duration');
      assert.equal(server?.type, 'histogram');
      assert.equal(server?.unit, 's');
      // Three /hello and the three /downstream calls they make, and the one /boom.
      assert.equal(count(server, 200), 6);
      assert.equal(count(server, 500), 1);
      for (const point of server?.points ?? []) {
        assert.equal(point.attributes['http.request.method'], 'GET');
        assert.ok((point.sum ?? 0) > 0 && (point.sum ?? 0) < 5, `a plausible duration sum: ${point.sum}`);
      }
      assert.equal(count(latest(mine(), 'http.client.request.duration'), 200), 3);
      const delay = latest(mine(), 'nodejs.eventloop.delay.p99')?.points[0]?.value ?? -1;
      assert.ok(delay > 0 && delay < 5, `event-loop delay p99 in seconds: ${delay}`);
      const heap = (latest(mine(), 'v8js.memory.heap.used')?.points ?? []).reduce((sum, point) => sum + (point.value ?? 0), 0);
      assert.ok(heap > 1e6, `heap used in bytes: ${heap}`);
      assert.ok(
        mine().every((metric) => metric.via === (protocol === 'grpc' ? 'grpc' : 'http')),
        'sent over the configured protocol',
      );
      assert.equal(server?.resource['service.name'], service);
    });
  }

  it('exports the last interval when the event loop drains, long before the next export was due', async () => {
    const app = startApp('script.cjs', {
      receiver: fixture.receiver,
      env: { OTEL_SERVICE_NAME: 'metrics-script', TARGET_URL: fixture.target.url, OTEL_METRIC_EXPORT_INTERVAL: '600000' },
    });
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    const mine = () => ofService('metrics-script')(fixture.receiver.metrics);
    await fixture.receiver.waitForMetrics(() => latest(mine(), 'http.client.request.duration') !== undefined, 10_000);
    assert.equal(count(latest(mine(), 'http.client.request.duration'), 200), 3);
  });
});

/** A script given to `node -e` under the preload, as `service`, exporting to the receiver. */
const evalApp = (code: string, service: string) =>
  startApp(code, {
    receiver: fixture.receiver,
    preload: 'none',
    nodeArgs: ['--require=@rustok/otel/register', '-e'],
    env: { OTEL_SERVICE_NAME: service },
  });

describe("the app's own metrics", () => {
  it('exports what the app measures with metrics.getMeter() of @opentelemetry/api, with the RED metrics', async () => {
    const app = evalApp(
      'require("@opentelemetry/api").metrics.getMeter("orders").createCounter("orders.placed").add(2, { "order.kind": "test" })',
      'metrics-own',
    );
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    const mine = () => ofService('metrics-own')(fixture.receiver.metrics);
    await fixture.receiver.waitForMetrics(() => latest(mine(), 'orders.placed') !== undefined, 10_000);
    const placed = latest(mine(), 'orders.placed');
    assert.equal(placed?.type, 'sum');
    assert.deepEqual(
      placed?.points.map((point) => [point.attributes, point.value]),
      [[{ 'order.kind': 'test' }, 2]],
    );
  });

  it('lets a script end whose own observable callback does I/O, with its last value exported', async () => {
    const app = evalApp(
      `require('@opentelemetry/api').metrics.getMeter('pool').createObservableGauge('pool.size').addCallback(async (result) => {
         await require('node:fs/promises').stat('.');
         result.observe(3);
       });`,
      'metrics-observable',
    );
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    const mine = () => ofService('metrics-observable')(fixture.receiver.metrics);
    await fixture.receiver.waitForMetrics(() => latest(mine(), 'pool.size') !== undefined, 10_000);
    assert.equal(latest(mine(), 'pool.size')?.points[0]?.value, 3);
  });

  it('leaves the global to the meter provider of an app with a metrics SDK of its own', async () => {
    const own = startApp('own-meter-provider.cjs', { cwd: fixtureDir('own-metrics'), env: { OTEL_SERVICE_NAME: 'metrics-own-sdk' } });
    assert.deepEqual(await own.exited, { code: 0, signal: null }, own.stderr());
    assert.deepEqual(JSON.parse(own.stdout()), { registered: true, scopes: ['orders'] });
  });
});

describe('metrics for a Prometheus scrape', () => {
  it('serves the metrics at /metrics and neither traces nor measures the scrapes', async () => {
    const port = await closedPort();
    const app = startApp('server.cjs', {
      receiver: fixture.receiver,
      env: {
        OTEL_SERVICE_NAME: 'metrics-scraped',
        OTEL_METRICS_EXPORTER: 'prometheus',
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      },
    });
    await app.get('/hello');
    const scrape = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(WAIT_MS) });
      assert.equal(response.status, 200);
      return response.text();
    };
    // The runtime metrics appear once the event-loop monitor has a sample: scrape until they do.
    let text = await scrape();
    for (let tries = 0; !/^nodejs_eventloop_delay_p99/m.test(text) && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      text = await scrape();
    }
    assert.match(text, /^http_server_request_duration_count\{[^}]*http_response_status_code="200"[^}]*\} 2$/m);
    assert.match(text, /^http_client_request_duration_count\{[^}]*\} 1$/m);
    assert.match(text, /^nodejs_eventloop_delay_p99\{[^}]*\} [0-9.e-]+$/m);
    assert.match(text, /^target_info\{[^}]*service_name="metrics-scraped"/m);
    assert.match(
      ourLines(app.stderr())[0] ?? '',
      new RegExp(`; metrics to a Prometheus scrape on 127\\.0\\.0\\.1:${port}/metrics; logs to `),
    );
    // Its end flushes what it holds: a span for a scrape, or metrics pushed over OTLP, would have arrived by then.
    process.kill(app.pid, 'SIGTERM');
    assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' });
    await fixture.receiver.waitFor((spans) => spans.filter((span) => span.resource['service.name'] === 'metrics-scraped').length >= 3);
    const paths = fixture.receiver.spans
      .filter((span) => span.resource['service.name'] === 'metrics-scraped')
      .map((span) => span.attributes['url.path']);
    assert.ok(!paths.includes('/metrics'), `no span for a scrape: ${paths.join(', ')}`);
    assert.deepEqual(ofService('metrics-scraped')(fixture.receiver.metrics), [], 'nothing pushed over OTLP');
  });

  it('lets the app end while Prometheus keeps its connection open between scrapes', { timeout: 30_000 }, async () => {
    const port = await closedPort();
    const app = startApp('setTimeout(() => console.log("done"), 1500)', {
      preload: 'none',
      env: { OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: String(port) },
      nodeArgs: ['--import=@rustok/otel/register', '-e'],
    });
    // One kept-alive connection, scraped twice a second, as Prometheus does at a short interval.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    // It ends 1.5 s after its start; one the open connection keeps alive fails this wait, and the scraping stops.
    const exited = app.exitedWithin(10_000);
    let ended = false;
    void exited
      .finally(() => {
        ended = true;
      })
      .catch(() => {});
    while (!ended) {
      await new Promise<void>((resolve) => {
        const request = get({ host: '127.0.0.1', port, path: '/metrics', agent }, (response) => response.resume().on('end', resolve));
        request.setTimeout(5_000, () => request.destroy());
        request.on('error', () => resolve());
      });
      // The scrape interval: the traffic under test, not a wait for something to happen.
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    agent.destroy();
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.equal(app.stdout().trim(), 'done');
  });

  it('says once that the port is taken and keeps tracing', async () => {
    const occupied = createServer().listen(0, '127.0.0.1');
    await once(occupied, 'listening');
    const { port } = occupied.address() as { port: number };
    try {
      const app = startApp('server.cjs', {
        receiver: fixture.receiver,
        env: {
          OTEL_SERVICE_NAME: 'metrics-port-taken',
          OTEL_METRICS_EXPORTER: 'prometheus',
          OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
          OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        },
      });
      assert.equal((await app.get('/hello')).status, 200);
      await app.waitForStderr(/cannot serve metrics/);
      const lines = ourLines(app.stderr()).filter((line) => line.includes('metrics'));
      assert.deepEqual(lines.slice(1), [
        `cannot serve metrics on 127.0.0.1:${port} (listen EADDRINUSE: address already in use 127.0.0.1:${port}); set OTEL_EXPORTER_PROMETHEUS_PORT to a free port. Traces are unaffected`,
      ]);
      await fixture.receiver.waitFor((spans) => spans.some((span) => span.resource['service.name'] === 'metrics-port-taken'));
    } finally {
      occupied.close();
    }
  });
});

describe('metrics off', () => {
  it('loads no metrics code with OTEL_METRICS_EXPORTER=none', async () => {
    const probe = startApp(
      // At the process's end, not after a pause: whatever the preload loads, at its start or later, is loaded by then.
      'process.on("exit", () => console.log(JSON.stringify(Object.keys(require.cache).filter((f) => /otel.dist.metrics|sdk-metrics|instrumentation-runtime-node|exporter-prometheus/.test(f)))))',
      { preload: 'none', env: { OTEL_METRICS_EXPORTER: 'none' }, nodeArgs: ['--require=@rustok/otel/register', '-e'] },
    );
    assert.deepEqual(await probe.exited, { code: 0, signal: null });
    assert.equal(probe.stdout().trim(), '[]');
    assert.match(ourLines(probe.stderr())[0] ?? '', /; no metrics; logs to /);
  });
});
