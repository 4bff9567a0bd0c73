// Our fetch and undici instrumentation (src/instrument/undici.ts) against upstream's, in one test:
// the same app and the same calls under each, and what the receiver decoded compared span by span
// and data point by data point; and the app's own output compared with its bare run's. Every
// difference fails, unless docs/OPENTELEMETRY_INTEGRATION.md lists it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useFixture } from '../helpers/fixture.js';
import { assertSameTelemetry, calls, flagsSeen, runClients } from '../helpers/parity.js';

const fixture = useFixture();
const CLIENT = 3;

describe('fetch and undici: ours and the upstream instrumentation send the same', () => {
  for (const [sampler, flags] of [
    ['parentbased_always_on', '01'],
    ['always_off', '00'],
  ] as const) {
    it(`spans, attributes, parents, status, exceptions, duration histograms and traceparent, call by call: OTEL_TRACES_SAMPLER=${sampler}`, async () => {
      // A redirect followed and a call made while serving one count twice; the call to a closed port reaches no server.
      const runs = await runClients(fixture.receiver, { script: 'fetch.cjs', upstream: 'undici', sampler, requests: 17, served: 16 });
      for (const mode of ['ours', 'upstream'] as const) {
        assert.deepEqual(calls(runs[mode].stdout), calls(runs.bare.stdout), `${mode}: the app saw what it sees bare`);
        // The calls that were answered.
        assert.deepEqual(flagsSeen(runs[mode].stdout), Array(13).fill(flags), `${mode}: the trace flags each server saw`);
      }
      if (sampler !== 'always_off') {
        assert.ok(
          runs.ours.spans.some((span) => span.kind === CLIENT && span.name === 'GET' && span.parent === 'GET /outer'),
          'a call made while serving a request is a child of its server span',
        );
      }
      // Upstream records an origin's credentials in url.full.
      assert.doesNotMatch(JSON.stringify(runs.ours.spans), /secret/, 'no credential in our spans');
      assertSameTelemetry(runs.ours, runs.upstream, (spans) =>
        JSON.parse(JSON.stringify(spans).replaceAll('//user:secret@', '//REDACTED:REDACTED@')),
      );
    });
  }
});
