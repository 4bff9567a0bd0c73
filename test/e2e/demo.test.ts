import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/app.js';

it('npm run demo prints each request of the demo service as a waterfall, through rustok-otel dev', async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'examples/demo/run.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, FORCE_COLOR: '0' },
    timeout: 60_000,
  });
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
});
