import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { ourLines, startApp, within } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import { closedPort } from '../helpers/target.js';

const fixture = useFixture();

const ofService = (name: string) => fixture.receiver.spans.filter((span) => span.resource['service.name'] === name);
// The batch delay is far longer than any test waits, so only the flush at exit can deliver the spans.
const SLOW_BATCHES = { OTEL_BSP_SCHEDULE_DELAY: '600000' };
const ERROR = 2;

describe('the exit contract', () => {
  it('delivers the spans of a script whose event loop drains, and exits 0', async () => {
    const app = startApp('script.cjs', {
      receiver: fixture.receiver,
      env: { ...SLOW_BATCHES, OTEL_SERVICE_NAME: 'drained', TARGET_URL: fixture.target.url },
    });
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    await fixture.receiver.waitFor(() => ofService('drained').length === 3, 2000);
  });

  it('shows the app none of its own signal listeners, so code that handles SIGTERM only where nothing else does still does', async () => {
    const env = { ...SLOW_BATCHES, OTEL_SERVICE_NAME: 'only-if-unhandled', TARGET_URL: fixture.target.url };
    const [bare, traced] = [
      startApp('only-if-unhandled.cjs', { preload: 'none', env }),
      startApp('only-if-unhandled.cjs', { receiver: fixture.receiver, env }),
    ];
    for (const app of [bare, traced]) {
      await app.get('/');
      process.kill(app.pid, 'SIGTERM');
    }
    assert.deepEqual(await bare.exited, { code: 143, signal: null });
    assert.deepEqual(await traced.exited, await bare.exited);
    const lines = (app: typeof bare) => app.stdout().replace(/listening \d+/, 'listening <port>');
    assert.equal(lines(traced), lines(bare));
    assert.match(bare.stdout(), /^listeners seen: SIGTERM 0 0 0, SIGINT 0 0 0; events: \n/);
    await fixture.receiver.waitFor(() => ofService('only-if-unhandled').length === 2, 2000);
  });

  it("leaves the app's SIGINT handler in charge after vm's breakOnSigint took it off and put it back", async () => {
    const env = { ...SLOW_BATCHES, OTEL_SERVICE_NAME: 'vm-sigint' };
    const [bare, traced] = [
      startApp('vm-sigint.cjs', { preload: 'none', env }),
      startApp('vm-sigint.cjs', { receiver: fixture.receiver, env }),
    ];
    for (const app of [bare, traced]) {
      assert.equal((await app.get('/')).body, '42');
      process.kill(app.pid, 'SIGINT');
    }
    assert.deepEqual(await bare.exited, { code: 0, signal: null });
    assert.deepEqual(await traced.exited, await bare.exited);
    assert.equal(traced.stdout().replace(/listening \d+/, ''), bare.stdout().replace(/listening \d+/, ''));
    await fixture.receiver.waitFor(() => ofService('vm-sigint').length === 1, 2000);
  });

  it("runs the app's 'beforeExit' listeners once, as bare, and still sends the last metrics", async () => {
    const bare = startApp('before-exit.cjs', { preload: 'none' });
    const traced = startApp('before-exit.cjs', {
      receiver: fixture.receiver,
      env: { OTEL_SERVICE_NAME: 'before-exit', OTEL_METRIC_EXPORT_INTERVAL: '600000' },
    });
    assert.deepEqual(await traced.exited, await bare.exited);
    assert.equal(traced.stdout(), bare.stdout());
    assert.equal(bare.stdout(), 'script done\nbeforeExit 0\nexit 0\n');
    await fixture.receiver.waitForMetrics((metrics) => metrics.some((metric) => metric.resource['service.name'] === 'before-exit'), 5000);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`flushes on ${signal} and dies by ${signal} when the app has no handler`, async () => {
      const service = `no-handler-${signal}`;
      const app = startApp('server.cjs', { receiver: fixture.receiver, env: { ...SLOW_BATCHES, OTEL_SERVICE_NAME: service } });
      await app.get('/hello');
      process.kill(app.pid, signal);
      assert.deepEqual(await app.exited, { code: null, signal });
      await fixture.receiver.waitFor(() => ofService(service).length === 3, 2000);
    });
  }

  for (const [mode, how] of [
    ['drain', 'lets its event loop drain'],
    ['exit', 'ends with process.exit(0)'],
  ] as const) {
    it(`lets an app with its own SIGTERM handler finish its shutdown when it ${how}, delivering the spans it made meanwhile`, async () => {
      const service = `graceful-${mode}`;
      const app = startApp('server.cjs', {
        receiver: fixture.receiver,
        env: { ...SLOW_BATCHES, OTEL_SERVICE_NAME: service, GRACEFUL: mode, TARGET_URL: fixture.target.url },
      });
      await app.get('/hello');
      process.kill(app.pid, 'SIGTERM');
      assert.deepEqual(await app.exited, { code: 0, signal: null });
      assert.match(app.stdout(), /graceful shutdown done/);
      await fixture.receiver.waitFor(() => ofService(service).length === 4, 2000);
      assert.ok(ofService(service).some((span) => String(span.attributes['url.full']).endsWith('/goodbye')));
    });
  }

  it('delivers the spans ended before process.exit(3), keeps the code, and runs nothing after it', async () => {
    const app = startApp('exit.cjs', {
      receiver: fixture.receiver,
      env: { ...SLOW_BATCHES, OTEL_SERVICE_NAME: 'exit-3', EXIT_CODE: '3', TARGET_URL: fixture.target.url },
    });
    assert.deepEqual(await app.exited, { code: 3, signal: null });
    assert.doesNotMatch(app.stdout(), /after process\.exit/);
    await fixture.receiver.waitFor(() => ofService('exit-3').length === 3, 2000);
  });

  for (const [path, message] of [
    ['/throw', 'boom in the handler'],
    ['/reject', 'rejected in the handler'],
  ] as const) {
    it(`records a crash from ${path} on the request's span, delivers it, and still exits 1 with Node's own report`, async () => {
      const service = `crash${path.replace('/', '-')}`;
      const app = startApp('crash.cjs', { receiver: fixture.receiver, env: { ...SLOW_BATCHES, OTEL_SERVICE_NAME: service } });
      await assert.rejects(app.get(path));
      assert.deepEqual(await app.exited, { code: 1, signal: null });
      assert.match(
        app.stderr(),
        new RegExp(`\\nError: ${message}\\n    at Server\\.<anonymous> \\(.*crash\\.cjs:\\d+:\\d+\\)\\n[\\s\\S]*\\nNode\\.js v\\d+`),
      );
      const [span] = await fixture.receiver.waitFor(() => ofService(service).length === 1, 2000).then(() => ofService(service));
      assert.equal(span?.attributes['url.path'], path);
      assert.deepEqual(span?.status, { code: ERROR, message });
      assert.equal(span?.events.filter((event) => event.name === 'exception').length, 1);
      assert.equal(span?.events[0]?.attributes['exception.message'], message);
    });
  }
});

describe('exit when the collector is down', () => {
  it('does not wait for the shutdown timeout when the connection is refused', { timeout: 30_000 }, async () => {
    const port = await closedPort();
    const started = Date.now();
    const app = startApp('script.cjs', {
      env: {
        ...SLOW_BATCHES,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_SHUTDOWN_TIMEOUT_MS: '20000',
        TARGET_URL: fixture.target.url,
      },
    });
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    assert.ok(Date.now() - started < 15_000, 'exited long before the 20 s bound');
    const lines = ourLines(app.stderr());
    assert.equal(lines.length, 2, app.stderr());
    assert.match(lines[1] ?? '', /^cannot export spans to grpc .*ECONNREFUSED/);
  });

  it('waits at most OTEL_SHUTDOWN_TIMEOUT_MS for a collector that never answers, keeping the exit code', { timeout: 30_000 }, async () => {
    fixture.receiver.setFault('hang');
    after(() => fixture.receiver.setFault(undefined));
    const app = startApp('exit.cjs', {
      receiver: fixture.receiver,
      protocol: 'http/protobuf',
      env: { ...SLOW_BATCHES, OTEL_SHUTDOWN_TIMEOUT_MS: '1000', EXIT_CODE: '7', TARGET_URL: fixture.target.url },
    });
    assert.deepEqual(await app.exited, { code: 7, signal: null });
  });

  for (const metrics of ['otlp', 'none']) {
    it(
      `ends at once on a second SIGTERM while the first one's flush waits for the collector (metrics ${metrics})`,
      { timeout: 30_000 },
      async () => {
        // A collector that takes the connection and never answers; its first connection says the flush is under way.
        const collector = createServer(() => {});
        const connected = once(collector, 'connection');
        collector.listen(0, '127.0.0.1');
        await once(collector, 'listening');
        after(() => {
          collector.close();
        });
        const app = startApp('server.cjs', {
          protocol: 'http/protobuf',
          env: {
            ...SLOW_BATCHES,
            OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
            OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as { port: number }).port}`,
            OTEL_METRICS_EXPORTER: metrics,
            OTEL_SHUTDOWN_TIMEOUT_MS: '20000',
          },
        });
        await app.get('/hello');
        process.kill(app.pid, 'SIGTERM');
        await within(connected, 10_000, () => `the flush the first SIGTERM starts, connecting to the collector\nstderr: ${app.stderr()}`);
        const second = Date.now();
        process.kill(app.pid, 'SIGTERM');
        assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' });
        assert.ok(Date.now() - second < 5000, `ended ${Date.now() - second} ms after the second SIGTERM`);
      },
    );
  }

  // With metrics on there are two exports at the end (spans, then metrics); the timeout bounds both.
  for (const [script, how] of [
    ['script.cjs', 'when the event loop drains'],
    ['server.cjs', 'on SIGTERM'],
  ] as const) {
    it(
      `keeps the whole exit within one OTEL_SHUTDOWN_TIMEOUT_MS ${how}, metrics included, for a collector that never answers`,
      {
        timeout: 30_000,
      },
      async () => {
        fixture.receiver.setFault('hang');
        after(() => fixture.receiver.setFault(undefined));
        const app = startApp(script, {
          receiver: fixture.receiver,
          env: { ...SLOW_BATCHES, OTEL_SHUTDOWN_TIMEOUT_MS: '3000', TARGET_URL: fixture.target.url },
        });
        if (script === 'server.cjs') {
          await app.get('/hello');
          process.kill(app.pid, 'SIGTERM');
        } else {
          await app.waitForStdout(/script done/);
        }
        const started = Date.now();
        const exit = await app.exited;
        assert.deepEqual(exit, script === 'server.cjs' ? { code: null, signal: 'SIGTERM' } : { code: 0, signal: null });
        // Two waits of 3 s each would be 6 s or more; one budget is 3 s plus the process's own ending.
        assert.ok(Date.now() - started < 5500, `exited ${Date.now() - started} ms after the end`);
      },
    );
  }
});
