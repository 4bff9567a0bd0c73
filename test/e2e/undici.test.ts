// Our fetch and undici instrumentation (src/instrument/undici.ts) against upstream's, in one test:
// the same app and the same calls under each, and what the receiver decoded compared span by span
// and data point by data point; and the app's own output compared with its bare run's. Every
// difference fails, unless docs/OPENTELEMETRY_INTEGRATION.md lists it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixtureDir, ROOT, startApp } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import { points, shapes } from '../helpers/parity.js';
import type { ReceivedSpan } from '../helpers/receiver.js';

const fixture = useFixture();
const [SERVER, CLIENT] = [2, 3];
const TLS_DIR = join(ROOT, 'test/fixtures/app');
/** The requests fetch.cjs makes through undici: a redirect followed and a call made while serving one count twice. */
const REQUESTS = 16;
/** Those that reach its servers: all but the one to a closed port. */
const SERVED = 15;

/** The app's output with the trace flags its servers saw taken out, and the ports line: what any run must print alike. */
const calls = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line.includes(': '))
    .map((line) => line.replace(/ (none|0[01])$/, ''));

describe('fetch and undici: ours and the upstream instrumentation send the same', () => {
  for (const [sampler, flags] of [
    ['parentbased_always_on', '01'],
    ['always_off', '00'],
  ] as const) {
    it(`spans, attributes, parents, status, exceptions, duration histograms and traceparent, call by call: OTEL_TRACES_SAMPLER=${sampler}`, async () => {
      const runs = await Promise.all(
        (['ours', 'upstream', 'bare'] as const).map(async (mode) => {
          const service = `undici-${sampler}-${mode}`;
          const app = startApp('fetch.cjs', {
            cwd: fixtureDir('http-clients'),
            preload: mode === 'bare' ? 'none' : 'import',
            receiver: fixture.receiver,
            env: {
              OTEL_SERVICE_NAME: service,
              OTEL_TRACES_SAMPLER: sampler,
              TLS_DIR,
              NODE_EXTRA_CA_CERTS: join(TLS_DIR, 'localhost-cert.pem'),
              ...(mode === 'upstream' ? { OTEL_NODE_UPSTREAM_INSTRUMENTATIONS: 'undici' } : {}),
            },
          });
          const exit = await app.exited;
          assert.deepEqual(exit, { code: 0, signal: null }, `${mode}: stderr: ${app.stderr()}`);
          assert.match(app.stdout(), /^done$/m, `${mode} made every call`);
          const ports = (app.stdout().match(/ports (\d+) (\d+) (\d+)/) ?? []).slice(1).map(Number);
          if (mode === 'bare') return { mode, stdout: app.stdout(), spans: [], metrics: [], ports };
          const mine = (span: ReceivedSpan) => span.resource['service.name'] === service;
          const count = (spans: readonly ReceivedSpan[], kind: number) => spans.filter((span) => mine(span) && span.kind === kind).length;
          const spans =
            sampler === 'always_off'
              ? []
              : await fixture.receiver.waitFor((all) => count(all, CLIENT) === REQUESTS && count(all, SERVER) === SERVED);
          const metrics = () => fixture.receiver.metrics.filter((metric) => metric.resource['service.name'] === service);
          const measured = () => points(metrics(), 'http.client.request.duration').reduce((sum, point) => sum + (point.count ?? 0), 0);
          await fixture.receiver
            .waitForMetrics(() => measured() === REQUESTS)
            .catch((error: Error) => {
              throw new Error(`${mode}: ${measured()} requests measured, ${REQUESTS} made: ${error.message}`);
            });
          // The refused connection's message names the closed port, with no path after it for shapes() to see.
          const closed = JSON.stringify(shapes(spans.filter(mine), ports)).replaceAll(`127.0.0.1:${ports[2]}`, '127.0.0.1:<closed port>');
          return { mode, stdout: app.stdout(), spans: JSON.parse(closed) as ReturnType<typeof shapes>, metrics: metrics(), ports };
        }),
      );
      const [ours, upstream, bare] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
      for (const run of [ours, upstream]) {
        assert.deepEqual(calls(run.stdout), calls(bare.stdout), `${run.mode}: the app saw what it sees bare`);
        const carried = run.stdout.split('\n').filter((line) => / (none|0[01])$/.test(line));
        assert.equal(carried.length, 12, `${run.mode}: the calls that were answered reported what their server saw`);
        for (const line of carried) assert.ok(line.endsWith(` ${flags}`), `${run.mode}: ${line}, not ${flags}`);
      }
      if (sampler !== 'always_off') {
        assert.ok(
          ours.spans.some((span) => span.kind === CLIENT && span.name === 'GET' && span.parent === 'GET'),
          'a call made while serving a request is a child of its server span',
        );
      }
      assert.deepEqual(ours.spans, upstream.spans);
      for (const name of ['http.client.request.duration', 'http.server.request.duration']) {
        const [mine, theirs] = [points(ours.metrics, name, ours.ports), points(upstream.metrics, name, upstream.ports)];
        assert.deepEqual(mine, theirs, name);
      }
    });
  }
});
