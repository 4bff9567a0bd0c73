import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ourLines, startApp } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';

const fixture = useFixture();

const ofService = (name: string) => fixture.receiver.spans.filter((span) => span.resource['service.name'] === name);

describe('the export thread', () => {
  it("takes none of the preloads in NODE_OPTIONS: tsx's there does not end it", async () => {
    const service = 'thread-node-options';
    const app = startApp('script.cjs', {
      receiver: fixture.receiver,
      env: { OTEL_SERVICE_NAME: service, TARGET_URL: fixture.target.url, NODE_OPTIONS: '--import tsx' },
    });
    assert.deepEqual(await app.exited, { code: 0, signal: null }, app.stderr());
    await fixture.receiver.waitFor(() => ofService(service).length >= 3);
    assert.deepEqual(ourLines(app.stderr()).slice(1), [], 'nothing but the start-up line');
  });
});

describe('an export thread that lives', () => {
  it('is waited for at exit while a collector keeps it, not taken for dead', { timeout: 60_000 }, async () => {
    fixture.receiver.setFault('hang');
    after(() => fixture.receiver.setFault(undefined));
    const app = startApp('big-spans.cjs', {
      receiver: fixture.receiver,
      env: { OTEL_SERVICE_NAME: 'thread-lives-at-exit', OTEL_METRICS_EXPORTER: 'none', OTEL_SHUTDOWN_TIMEOUT_MS: '4000' },
    });
    // The wait at exit lasts the whole 4 s, longer than the silence that means death: it beats meanwhile.
    const requested = Date.now();
    await assert.rejects(app.get('/big?count=1&exit'));
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    assert.doesNotMatch(app.stderr(), /stopped answering/);
    // Not ended sooner some other way (the thread crashing, the flush giving up): a slow machine only makes this longer.
    assert.ok(Date.now() - requested >= 3000, `exited ${Date.now() - requested} ms after the request`);
  });
});

describe('an export thread that dies', () => {
  it(
    'is said in one line and replaced once; after a second death spans are dropped, and nothing waits for it',
    { timeout: 60_000 },
    async () => {
      const service = 'thread-dies';
      // A collector that never answers: the 1 MB spans pile up in the thread until its heap cap ends it.
      fixture.receiver.setFault('hang');
      after(() => fixture.receiver.setFault(undefined));
      const app = startApp('big-spans.cjs', {
        receiver: fixture.receiver,
        env: { OTEL_SERVICE_NAME: service, OTEL_METRICS_EXPORTER: 'none', OTEL_SHUTDOWN_TIMEOUT_MS: '20000' },
      });
      await app.get('/big?count=120');
      await app.waitForStderr(/export thread stopped \(/);
      assert.match(
        ourLines(app.stderr()).at(-1) ?? '',
        /^the export thread stopped \(.*memory limit.*\); what it held is lost, and a new one takes over$/,
      );

      fixture.receiver.setFault(undefined);
      assert.equal((await app.get('/after-restart')).status, 200);
      await fixture.receiver.waitFor(() => ofService(service).some((span) => span.attributes['url.path'] === '/after-restart'), 10_000);

      fixture.receiver.setFault('hang');
      await app.get('/big?count=120');
      await app.waitForStderr(/export thread stopped again/);
      assert.match(
        ourLines(app.stderr()).at(-1) ?? '',
        /^the export thread stopped again \(.*\); spans, logs and metrics are dropped from now on$/,
      );
      assert.equal(ourLines(app.stderr()).filter((line) => line.includes('export thread')).length, 2);

      // No thread left to flush: SIGTERM ends it at once, not after the 20 s shutdown budget.
      const signalled = Date.now();
      process.kill(app.pid, 'SIGTERM');
      assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' });
      assert.ok(Date.now() - signalled < 10_000, `ended ${Date.now() - signalled} ms after SIGTERM`);
    },
  );

  it('that dies while the process waits for it at exit is not waited for past its silence', { timeout: 60_000 }, async () => {
    fixture.receiver.setFault('hang');
    after(() => fixture.receiver.setFault(undefined));
    const app = startApp('big-spans.cjs', {
      receiver: fixture.receiver,
      env: { OTEL_SERVICE_NAME: 'thread-dies-at-exit', OTEL_METRICS_EXPORTER: 'none', OTEL_SHUTDOWN_TIMEOUT_MS: '30000' },
    });
    const requested = Date.now();
    await assert.rejects(app.get('/big?count=120&exit'));
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    // Its heap cap ends the thread during the wait in 'exit'; two seconds of silence end the wait, not the 30 s budget.
    assert.ok(Date.now() - requested < 15_000, `exited ${Date.now() - requested} ms after the request`);
    assert.match(
      ourLines(app.stderr()).at(-1) ?? '',
      /^the export thread stopped answering \(its heap cap, most likely\); what it held is lost$/,
    );
  });
});
