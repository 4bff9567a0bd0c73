import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { APP_DIR, FIXTURE_NODE, ourLines, sentinel, startApp, WORK_DIR } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import type { ReceivedSpan } from '../helpers/receiver.js';

const fixture = useFixture();

const SERVER = 2;
const CLIENT = 3;
const ofService = (name: string) => (spans: readonly ReceivedSpan[]) => spans.filter((span) => span.resource['service.name'] === name);

/** Calls /hello on the CommonJS server (which calls /downstream) and returns that trace's spans. */
async function helloTrace(app: ReturnType<typeof startApp>, service: string) {
  const response = await app.get('/hello');
  assert.equal(response.status, 200);
  const { traceparent } = JSON.parse(response.body) as { traceparent?: string };
  assert.match(traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'the outgoing call carries a sampled traceparent');
  const traceId = traceparent?.split('-')[1];
  const spans = await fixture.receiver.waitFor((all) => ofService(service)(all).filter((span) => span.traceId === traceId).length >= 3);
  return { traceparent: traceparent ?? '', spans: ofService(service)(spans).filter((span) => span.traceId === traceId) };
}

describe('the register preload', () => {
  // `#`, `%` and `?` end a URL's path: a file URL made by pasting the path (tsup's own shim) lost
  // everything after them, and with it the package's own files. Windows' `C#` folders, CI workspaces.
  it('traces an app installed under a path with #, %, ? and spaces in it, preloaded with import and require', async () => {
    const dir = join(WORK_DIR, 'odd path #1 100% ?', 'app');
    rmSync(dir, { recursive: true, force: true });
    cpSync(APP_DIR, dir, { recursive: true, verbatimSymlinks: true });
    for (const preload of ['import', 'require'] as const) {
      const service = `odd-path-${preload}`;
      const app = startApp('server.cjs', { receiver: fixture.receiver, preload, cwd: dir, env: { OTEL_SERVICE_NAME: service } });
      const { spans } = await helloTrace(app, service);
      assert.ok(spans.some((span) => span.kind === SERVER && span.attributes['url.path'] === '/hello'));
      assert.match(app.stderr(), /^@rustok\/otel: tracing [^\n]+\n$/, 'the start-up line and nothing else');
    }
  });

  for (const preload of ['import', 'require', 'node-options'] as const) {
    it(`traces a plain CommonJS server when preloaded with ${preload}`, async () => {
      const service = `cjs-${preload}`;
      const app = startApp('server.cjs', { receiver: fixture.receiver, preload, env: { OTEL_SERVICE_NAME: service } });
      const { spans, traceparent } = await helloTrace(app, service);

      const incoming = spans.find((span) => span.kind === SERVER && span.attributes['url.path'] === '/hello');
      const outgoing = spans.find((span) => span.kind === CLIENT);
      const downstream = spans.find((span) => span.kind === SERVER && span.attributes['url.path'] === '/downstream');
      assert.ok(incoming && outgoing && downstream, `expected server, client and server spans, got ${spans.map((s) => s.name)}`);
      assert.equal(outgoing.parentSpanId, incoming.spanId, 'the outgoing call is a child of the incoming request');
      assert.equal(downstream.parentSpanId, outgoing.spanId);
      assert.equal(traceparent.split('-')[2], outgoing.spanId, 'traceparent names the client span');
      assert.equal(incoming.via, 'grpc');
      assert.match(app.stderr(), /^@rustok\/otel: tracing [^\n]+\n$/, 'one start-up line and nothing else on stderr');
    });
  }

  it('describes the resource with the app package name, version and environment', async () => {
    const app = startApp('server.cjs', {
      receiver: fixture.receiver,
      env: { NODE_ENV: 'staging', OTEL_RESOURCE_ATTRIBUTES: 'team=checkout' },
    });
    const { spans } = await helloTrace(app, 'fixture-shop');
    const resource = spans[0]?.resource ?? {};
    assert.equal(resource['service.name'], 'fixture-shop');
    assert.equal(resource['service.version'], '3.1.4');
    assert.equal(resource['deployment.environment.name'], 'staging');
    assert.equal(resource.team, 'checkout');
    assert.equal(resource['telemetry.distro.name'], '@rustok/otel');
    assert.equal(resource['process.runtime.name'], 'nodejs');
    const [line] = ourLines(app.stderr());
    assert.match(
      line ?? '',
      /^tracing fixture-shop@3\.1\.4 \(staging\) to grpc http:\/\/127\.0\.0\.1:\d+, sampling 100%, 4 instrumentations \(express, http, pino, undici\); metrics to grpc http:\/\/127\.0\.0\.1:\d+ every 60 s; logs to grpc http:\/\/127\.0\.0\.1:\d+$/,
    );
  });

  // `node .` (a Dockerfile's CMD) names a folder, and so does process.argv[1]: the app is its package's main.
  it('traces an app started as a folder, `node .` or its path, named by that folder’s package.json', async () => {
    const dir = join(APP_DIR, 'started-as-folder');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'folder-shop', version: '2.0.0', main: 'server.cjs' }));
    cpSync(join(APP_DIR, 'server.cjs'), join(dir, 'server.cjs'));
    for (const [how, script] of [
      ['dot', '.'],
      ['path', dir],
    ] as const) {
      const app = startApp(script, { receiver: fixture.receiver, cwd: dir, env: { OTEL_RESOURCE_ATTRIBUTES: `started=${how}` } });
      const { spans } = await helloTrace(app, 'folder-shop');
      assert.deepEqual([spans[0]?.resource['service.version'], spans[0]?.resource.started], ['2.0.0', how], `started with ${script}`);
    }
  });

  it("takes the environment a framework's command sets in its own code, when none was set at the start", async () => {
    const service = 'node-env-command';
    const app = startApp('node-env-command.cjs', { receiver: fixture.receiver, env: { OTEL_SERVICE_NAME: service } });
    const { spans } = await helloTrace(app, service);
    assert.equal(spans[0]?.resource['deployment.environment.name'], 'production');
    assert.match(ourLines(app.stderr())[0] ?? '', /^tracing node-env-command@3\.1\.4 \(development unless the app sets NODE_ENV\) to /);
  });

  it('prefers RUST_ENV and the explicit service variables over everything else', async () => {
    const app = startApp('server.cjs', {
      receiver: fixture.receiver,
      env: { RUST_ENV: 'production', NODE_ENV: 'test', OTEL_SERVICE_NAME: 'orders', OTEL_SERVICE_VERSION: '9.9.9' },
    });
    const { spans } = await helloTrace(app, 'orders');
    assert.equal(spans[0]?.resource['service.version'], '9.9.9');
    assert.equal(spans[0]?.resource['deployment.environment.name'], 'production');
  });

  it('exports over HTTP/protobuf when that protocol is chosen', async () => {
    const app = startApp('server.cjs', { receiver: fixture.receiver, protocol: 'http/protobuf', env: { OTEL_SERVICE_NAME: 'over-http' } });
    const { spans } = await helloTrace(app, 'over-http');
    assert.ok(spans.every((span) => span.via === 'http'));
  });

  it('exports nothing at OTEL_SAMPLING_RATE=0 but still propagates context', async () => {
    const app = startApp('server.cjs', { receiver: fixture.receiver, env: { OTEL_SERVICE_NAME: 'unsampled', OTEL_SAMPLING_RATE: '0' } });
    const response = await app.get('/hello');
    assert.match(JSON.parse(response.body).traceparent, /-00$/, 'the downstream call is told it is not sampled');
    // A request its caller sampled is traced all the same: once it arrives, what the app made before it has too.
    const marker = await sentinel(app, fixture.receiver);
    assert.deepEqual(
      ofService('unsampled')(fixture.receiver.spans).filter((span) => span.traceId !== marker),
      [],
    );
  });

  it('leaves the paths in OTEL_NODE_UNTRACED_PATHS untraced', async () => {
    const app = startApp('server.cjs', {
      receiver: fixture.receiver,
      env: { OTEL_SERVICE_NAME: 'probed', OTEL_NODE_UNTRACED_PATHS: '/healthz,/readyz' },
    });
    assert.equal((await app.get('/healthz?probe=1')).status, 200);
    await helloTrace(app, 'probed');
    assert.deepEqual(
      ofService('probed')(fixture.receiver.spans).filter((span) => String(span.attributes['url.path']).startsWith('/healthz')),
      [],
    );
  });

  for (const [layers, expected] of [
    [undefined, ['GET /api/users/:id', 'request handler']],
    ['all', ['GET /api/users/:id', 'middleware - <anonymous>', 'middleware - jsonParser', 'request handler', 'router - /users/:id']],
  ] as const) {
    it(`gives Express ${layers ?? 'request handlers, not middleware or routers,'} spans with OTEL_NODE_EXPRESS_LAYERS=${layers ?? ''}`, async () => {
      const service = `express-layers-${layers ?? 'default'}`;
      const app = startApp('express-layers.cjs', {
        receiver: fixture.receiver,
        env: { OTEL_SERVICE_NAME: service, OTEL_NODE_EXPRESS_LAYERS: layers },
      });
      assert.equal((await app.get('/api/users/7')).status, 200);
      // Once a later request has arrived, a span of this one we do not expect would have too.
      const marker = await sentinel(app, fixture.receiver);
      const spans = ofService(service)(fixture.receiver.spans).filter((span) => span.traceId !== marker);
      assert.deepEqual(spans.map((span) => span.name).sort(), [...expected]);
      assert.equal(spans.find((span) => span.kind === SERVER)?.attributes['http.route'], '/api/users/:id');
    });
  }

  // On Node 20 imports go through require, so instrumentations can wait for their modules; where a
  // loader hook runs (Node 22.22.3+, 24.11.1+, or 20.6.0) they all load at start.
  const onDemand = FIXTURE_NODE === 'node' && process.versions.node.startsWith('20.');
  it('loads an instrumentation when the app first requires its module, not before', { skip: !onDemand }, async () => {
    // Upstream's Express instrumentation, to see its file load; ours is part of the preload's own.
    const env = { OTEL_METRICS_EXPORTER: 'none', OTEL_NODE_UPSTREAM_INSTRUMENTATIONS: 'express' };
    const probe = startApp('on-demand.cjs', { receiver: fixture.receiver, env });
    assert.deepEqual(await probe.exited, { code: 0, signal: null });
    assert.deepEqual(JSON.parse(probe.stdout()), { before: [], after: ['express'] });
    assert.match(probe.stderr(), /4 instrumentations \(express, http, pino, undici\)/, 'the banner names the ones armed as well');
    const ours = startApp('on-demand.cjs', { receiver: fixture.receiver, env: { OTEL_METRICS_EXPORTER: 'none' } });
    assert.deepEqual(await ours.exited, { code: 0, signal: null });
    assert.deepEqual(JSON.parse(ours.stdout()), { before: [], after: [] });
  });

  it('loads no OpenTelemetry module, not even node:worker_threads, and prints nothing when OTEL_ENABLED is unset', async () => {
    const probe = startApp(
      "const loaded = Object.keys(require.cache).filter((f) => /@opentelemetry|import-in-the-middle|otel.dist.(sdk|opentelemetry|packages)/.test(f)); if (process.moduleLoadList.includes('NativeModule worker_threads')) loaded.push('node:worker_threads'); console.log(JSON.stringify(loaded))",
      {
        preload: 'none',
        env: { OTEL_ENABLED: undefined, OTEL_SAMPLING_RATE: 'abc' },
        nodeArgs: ['--import=@rustok/otel/register', '-e'],
      },
    );
    assert.deepEqual(await probe.exited, { code: 0, signal: null });
    assert.equal(probe.stdout().trim(), '[]');
    assert.equal(probe.stderr(), '');
  });

  it('says once that a mistyped OTEL_ENABLED leaves tracing off', async () => {
    const app = startApp('server.cjs', { receiver: fixture.receiver, env: { OTEL_ENABLED: 'ture' } });
    assert.equal((await app.get('/hello')).status, 200);
    assert.deepEqual(ourLines(app.stderr()), ['OTEL_ENABLED="ture" is not one of true/1/yes/on or false/0/no/off; tracing stays off']);
  });

  const malformed: [string, string, RegExp][] = [
    ['OTEL_SAMPLING_RATE', '1.5', /^OTEL_SAMPLING_RATE="1\.5" is outside 0\.\.1; using 1$/],
    ['OTEL_SAMPLING_RATE', 'abc', /^OTEL_SAMPLING_RATE="abc" is not a number; using 1$/],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grcp', /^OTEL_EXPORTER_OTLP_PROTOCOL="grcp" is not grpc or http\/protobuf; using grpc$/],
    [
      'OTEL_NODE_ENABLED_INSTRUMENTATIONS',
      'http,expres',
      /^OTEL_NODE_ENABLED_INSTRUMENTATIONS entry "expres" is not a known instrumentation/,
    ],
    ['OTEL_BSP_MAX_QUEUE_SIZE', '-5', /^OTEL_BSP_MAX_QUEUE_SIZE="-5" is not a whole number ≥ 1; using 2048$/],
  ];
  for (const [name, value, expected] of malformed) {
    it(`warns once about ${name}="${value}" and keeps serving, traced`, async () => {
      const service = `malformed-${name}-${value}`;
      const app = startApp('server.cjs', { receiver: fixture.receiver, env: { OTEL_SERVICE_NAME: service, [name]: value } });
      await helloTrace(app, service);
      const lines = ourLines(app.stderr());
      assert.equal(lines.length, 2, `a warning and the start-up line, got:\n${app.stderr()}`);
      assert.match(lines[0] ?? '', expected);
    });
  }

  it('survives an endpoint that is not a URL, saying what it uses instead', async () => {
    const app = startApp('server.cjs', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' } });
    assert.equal((await app.get('/hello')).status, 200);
    assert.match(
      ourLines(app.stderr())[0] ?? '',
      /^OTEL_EXPORTER_OTLP_ENDPOINT \(9 characters, not shown\) does not parse as a URL; using http:\/\/localhost:4317$/,
    );
  });

  it('runs the app untraced, saying why in one line, when a package it needs is missing', async () => {
    const app = startApp('server.cjs', {
      receiver: fixture.receiver,
      preload: 'none',
      nodeArgs: ['--require=./missing-package.cjs', '--import=@rustok/otel/register'],
    });
    assert.equal((await app.get('/hello')).status, 200);
    process.kill(app.pid, 'SIGTERM');
    assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' });
    assert.deepEqual(ourLines(app.stderr()), [
      "could not start tracing (Cannot find module 'import-in-the-middle'); the app runs untraced",
    ]);
  });

  it('starts one SDK when preloaded twice and from a second copy of the package', async () => {
    const app = startApp('script.cjs', {
      receiver: fixture.receiver,
      preload: 'none',
      nodeArgs: ['--require=@rustok/otel/register', '--import=@rustok/otel/register', '--import=./second-copy/dist/register.js'],
      env: { OTEL_SERVICE_NAME: 'preloaded-thrice', TARGET_URL: fixture.target.url, WORKER: '1' },
    });
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    const spans = await fixture.receiver.waitFor((all) => ofService('preloaded-thrice')(all).length >= 3);
    assert.equal(ourLines(app.stderr()).length, 1, app.stderr());
    assert.equal(ofService('preloaded-thrice')(spans).length, 3, 'each call traced once, none from the worker thread');
  });

  for (const [label, nodeArgs, script] of [
    ['run with tsx', ['--import=tsx'], 'service.ts'],
    ['compiled with tsc', [], 'build/service.js'],
  ] as const) {
    it(`traces a TypeScript service ${label}, manual spans included`, async () => {
      const service = `ts-${label.split(' ')[0]}`;
      const app = startApp(script, { receiver: fixture.receiver, nodeArgs, env: { OTEL_SERVICE_NAME: service } });
      const response = await app.get('/orders/17');
      assert.deepEqual(JSON.parse(response.body), { id: '17', total: 42 });
      const spans = ofService(service)(
        await fixture.receiver.waitFor((all) => ofService(service)(all).some((span) => span.name === 'orders.load')),
      );
      const manual = spans.find((span) => span.name === 'orders.load');
      const request = spans.find((span) => span.kind === SERVER);
      assert.equal(manual?.attributes['order.id'], '17');
      assert.equal(manual?.traceId, request?.traceId, 'the manual span is part of the request trace');
      assert.ok(spans.some((span) => span.attributes['http.route'] === '/orders/:id'));
    });
  }
});
