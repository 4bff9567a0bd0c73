import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, it } from 'node:test';
import { ROOT, startCommand, stopApps } from '../helpers/app.js';

// The demo starts `rustok-otel dev` and the service itself: in a process group of their own with it, all three
// are killed when the test ends, pass or fail (a timeout of its own would stop the demo, not what it started).
afterEach(stopApps);

it('npm run demo prints each request of the demo service as a waterfall, through rustok-otel dev', async () => {
  const demo = startCommand(process.execPath, ['--import', 'tsx', join(ROOT, 'examples/demo/run.ts')], {
    preload: 'none',
    cwd: ROOT,
    // PATH, HOME and FORCE_COLOR=0 only, as a user's shell would have.
    env: { OTEL_ENABLED: undefined, OTEL_BSP_SCHEDULE_DELAY: undefined },
  });
  assert.deepEqual(await demo.exitedWithin(60_000), { code: 0, signal: null }, demo.stderr());
  const [stdout, stderr] = [demo.stdout(), demo.stderr()];
  assert.match(stdout, /^rustok-otel dev: OTLP gRPC on http:\/\/127\.0\.0\.1:\d+, HTTP on http:\/\/127\.0\.0\.1:\d+/m);
  assert.match(
    stderr,
    /^@rustok\/otel: tracing demo-orders@0\.1\.0 \(development unless the app sets NODE_ENV\) to grpc http:\/\/127\.0\.0\.1:\d+/m,
  );
  assert.equal(stdout.match(/^trace [0-9a-f]{32} {2}demo-orders {2}\d+ spans/gm)?.length, 3, stdout);
  // Names, kinds and nesting, not timings: each level of the tree is indented two more spaces.
  const shape = stdout
    .split('\n')
    .map((line) => line.match(/^( +)(.+?) {2,}(server|client|internal) +.*?(ERROR.*)?$/))
    .filter((match) => match !== null)
    .map(([, indent, name, kind, error]) => `${indent}${name} [${kind}]${error ? ` ${error}` : ''}`);
  const order = [
    '  GET /orders/:id [server]',
    '    request handler [internal]',
    '      orders.load [internal]',
    '        GET [client]',
    '          GET /inventory/:sku [server]',
    '            request handler [internal]',
  ];
  assert.deepEqual(shape.slice(0, 6), order);
  assert.deepEqual(shape.slice(6, 12), order);
  assert.deepEqual(shape.slice(12), [
    '  GET /checkout [server] ERROR',
    '    request handler [internal] ERROR payment provider unavailable',
  ]);
  // The service's pino records, each inside the trace of the request that wrote it.
  const traces = stdout.split(/^(?=trace )/m).filter((part) => part.startsWith('trace '));
  const logLines = traces.map(
    (trace) => trace.match(/^ +· [+-][\d.]+ ms {2}\w+ {2}.*$/gm)?.map((line) => line.replace(/[+-][\d.]+ ms/, 'T')) ?? [],
  );
  assert.deepEqual(
    logLines.map((lines) => lines.map((line) => line.trim())),
    [['· T  info  loading the order'], ['· T  info  loading the order'], ['· T  error  checkout failed']],
    stdout,
  );
});
