// Our node:http and node:https client instrumentation (src/instrument/http-client.ts) against
// upstream's, in one test: the same app and the same calls under each, axios's among them, and what
// the receiver decoded compared span by span and data point by data point; and the app's own output
// compared with its bare run's. Every difference fails, unless docs/OPENTELEMETRY_INTEGRATION.md
// lists it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixtureDir, startApp } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import { assertSameTelemetry, calls, flagsSeen, runClients } from '../helpers/parity.js';
import type { ReceivedSpan } from '../helpers/receiver.js';

const fixture = useFixture();
const CLIENT = 3;
/**
 * Where upstream's instrumentation changes what the app sees, and ours does not: it turns a list of
 * headers into an object keyed 0, 1, 2… (the request the server gets is not the app's), and takes
 * `undefined` options before a callback for no options (the callback never runs).
 */
const LISTED = ['headers as a list', 'get(string, undefined, callback)'];

describe('node:http and node:https clients: ours and the upstream instrumentation send the same', () => {
  for (const [sampler, flags] of [
    ['parentbased_always_on', '01'],
    ['always_off', '00'],
  ] as const) {
    it(`spans, attributes, parents, status, exceptions, duration histograms and traceparent, call by call: OTEL_TRACES_SAMPLER=${sampler}`, async () => {
      // axios's redirect followed counts twice, and each call made while serving one thrice; the call to a closed port reaches no server.
      const runs = await runClients(fixture.receiver, { script: 'node-http.cjs', upstream: 'http', sampler, requests: 38, served: 37 });
      assert.deepEqual(calls(runs.ours.stdout), calls(runs.bare.stdout), 'ours: the app saw what it sees bare');
      const unlisted = (stdout: string) => calls(stdout).filter((line) => !LISTED.some((listed) => line.startsWith(listed)));
      assert.deepEqual(unlisted(runs.upstream.stdout), unlisted(runs.bare.stdout), 'upstream: the app saw what it sees bare');
      for (const mode of ['ours', 'upstream'] as const) {
        assert.deepEqual(flagsSeen(runs[mode].stdout), Array(28).fill(flags), `${mode}: the trace flags each server saw`);
      }
      if (sampler !== 'always_off') {
        assert.ok(
          runs.ours.spans.some((span) => span.kind === CLIENT && span.name === 'GET' && span.parent === 'GET /outer-2'),
          'a call made while serving a request is a child of its server span',
        );
      }
      assertSameTelemetry(runs.ours, runs.upstream);
    });
  }

  it('instruments node:http and node:https as an ES module imports them: by name, through the default export, as a namespace', async () => {
    const runs = await runClients(fixture.receiver, {
      script: 'esm.mjs',
      upstream: 'http',
      sampler: 'parentbased_always_on',
      requests: 4,
      served: 4,
    });
    assert.deepEqual(calls(runs.ours.stdout), calls(runs.bare.stdout), 'ours: the app saw what it sees bare');
    assert.deepEqual(flagsSeen(runs.ours.stdout), ['01', '01', '01', '01'], 'every call carried its traceparent');
    assertSameTelemetry(runs.ours, runs.upstream);
  });

  it('lets a throw of its own go no further than one line: the app gets what it gets bare', async () => {
    const run = (preload: 'import' | 'none') =>
      startApp('throws.cjs', { cwd: fixtureDir('http-clients'), preload, receiver: fixture.receiver });
    const [ours, bare] = [run('import'), run('none')];
    assert.deepEqual(await ours.exited, await bare.exited);
    assert.equal(ours.stdout(), 'RangeError: no host today\n');
    assert.equal(ours.stdout(), bare.stdout());
    assert.match(
      ours.stderr(),
      /the http instrumentation failed on a request \(no host today\); its span or duration may be missing, the app is unaffected/,
    );
  });

  it("takes another implementation's URL for a URL and reads its fields, as Node does (upstream's sends its request to localhost:80)", async () => {
    const run = (preload: 'import' | 'none') =>
      startApp('url-like.cjs', {
        cwd: fixtureDir('http-clients'),
        preload,
        receiver: fixture.receiver,
        env: { OTEL_SERVICE_NAME: `url-like-${preload}` },
      });
    const [ours, bare] = [run('import'), run('none')];
    assert.deepEqual(await ours.exited, { code: 0, signal: null });
    await bare.exited;
    assert.equal(bare.stdout(), '200 /foreign?a=1 untraced\n200 /p?b=2 untraced\n');
    assert.equal(ours.stdout(), '200 /foreign?a=1 traced\n200 /p?b=2 traced\n');
    const mine = (span: ReceivedSpan) => span.resource['service.name'] === 'url-like-import' && span.kind === CLIENT;
    const spans = (await fixture.receiver.waitFor((all) => all.filter(mine).length >= 2)).filter(mine);
    assert.deepEqual(
      spans.map((span) => String(span.attributes['url.full']).replace(/:\d+\//, ':<port>/')),
      ['http://127.0.0.1:<port>/foreign?a=1', 'http://127.0.0.1:<port>/p?b=2'],
    );
  });

  it("steps aside for the app's own registration of upstream's http instrumentation: one client and one server span a call, with the app's hook", async () => {
    const service = 'own-http-instrumentation';
    const app = startApp('own-instrumentation.cjs', {
      cwd: fixtureDir('http-clients'),
      receiver: fixture.receiver,
      env: { OTEL_SERVICE_NAME: service },
    });
    assert.deepEqual(await app.exited, { code: 0, signal: null }, app.stderr());
    assert.equal(app.stdout(), '/one: 200\n/two: 200\ndone\n');
    const mine = (span: ReceivedSpan) => span.resource['service.name'] === service;
    // Flushed at the app's exit: all of them arrive together.
    const spans = (await fixture.receiver.waitFor((all) => all.filter(mine).length >= 4)).filter(mine);
    const described = (span: ReceivedSpan) =>
      [
        span.kind === CLIENT ? 'client' : 'server',
        span.attributes['url.full'] ?? span.attributes['url.path'],
        span.attributes['app.hook'] ?? 'no hook',
      ]
        .map((part) => String(part).replace(/:\d+\//, ':<port>/'))
        .join(' ');
    assert.deepEqual(spans.map(described).sort(), [
      'client http://127.0.0.1:<port>/one ran',
      'client http://127.0.0.1:<port>/two ran',
      'server /one ran',
      'server /two ran',
    ]);
  });
});
