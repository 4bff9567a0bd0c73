// Our server instrumentation (src/instrument/http-server.ts) against upstream's, in one test: the
// same app and the same requests under each, and what the receiver decoded compared span by span and
// data point by data point. Every difference fails, unless docs/OPENTELEMETRY_INTEGRATION.md lists it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixtureDir, ROOT, sentinel, startApp } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import { points, shapes } from '../helpers/parity.js';
import type { ReceivedMetric, ReceivedSpan } from '../helpers/receiver.js';

const fixture = useFixture();
const SERVER = 2;
const CERT = readFileSync(join(ROOT, 'test/fixtures/app/localhost-cert.pem'));

interface Sent {
  readonly port: number;
  readonly path: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly agent?: Agent;
  readonly secure?: true;
  /** Abort after this many ms, before the answer. */
  readonly abortAfter?: number;
}

/** One request as a client writes it, with a User-Agent of its own; resolves with the status, or 0 when aborted. */
function send({ port, path, method = 'GET', headers = {}, body, agent, secure, abortAfter }: Sent): Promise<number> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path, method, agent, headers: { 'user-agent': 'parity/1.0', ...headers } };
    const request = secure ? httpsRequest({ ...options, ca: CERT, servername: 'localhost' }) : httpRequest(options);
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', (error) => (abortAfter ? resolve(0) : reject(error)));
    if (abortAfter) setTimeout(() => request.destroy(), abortAfter);
    request.end(body);
  });
}

/** The same requests to either app, one after another: their spans then end in the same order. */
async function exercise([express, plain, secure]: readonly number[]): Promise<void> {
  const json = { 'content-type': 'application/json' };
  const statuses: [string, number][] = [];
  const expect = async (what: string, sent: Sent) => {
    const status = await send(sent).catch((error: Error) => {
      throw new Error(`${what}: ${error.message}`);
    });
    statuses.push([what, status]);
  };
  await expect('route with a parameter', { port: express as number, path: '/users/42' });
  await expect('router, parameter, presigned query', { port: express as number, path: '/api/items/7?X-Amz-Signature=secret&page=2' });
  await expect('POST with a JSON body', { port: express as number, path: '/api/items', method: 'POST', headers: json, body: '{"a":1}' });
  await expect('routers in routers, parameters merged', { port: express as number, path: '/v1/shops/s1/orders/o9' });
  await expect('a route passing on with next()', { port: express as number, path: '/users/me' });
  await expect("next('route')", { port: express as number, path: '/skip' });
  await expect('a route of several paths', { port: express as number, path: '/b' });
  await expect('a route pattern', { port: express as number, path: '/re42' });
  await expect('a throw in a handler', { port: express as number, path: '/throw' });
  await expect('a throw in a middleware', { port: express as number, path: '/mw-throw' });
  await expect("the app's own error handler", { port: express as number, path: '/handled' });
  await expect('an async middleware that rejects, an async error handler', { port: express as number, path: '/async-fail' });
  await expect("the app's layers, listed", { port: express as number, path: '/routes' });
  for (const n of [1, 2, 3]) await expect(`a shared client's callback ${n}`, { port: express as number, path: `/shared/items/${n}` });
  await expect('a 503', { port: express as number, path: '/fail' });
  await expect("an error passed to Express's next()", { port: express as number, path: '/next-error' });
  await expect('a redirect', { port: express as number, path: '/redirect' });
  await expect('a call to another service', { port: express as number, path: '/call' });
  await expect("Express's own 404", { port: express as number, path: '/nowhere' });
  await expect('an untraced path', { port: express as number, path: '/health' });
  await expect('a method outside the standard ones', { port: express as number, path: '/users/1', method: 'PURGE' });
  await expect('behind a proxy (Forwarded)', {
    port: express as number,
    path: '/users/2',
    headers: { forwarded: 'for="[2001:db8::1]:4711";host=shop.example:8443;proto=https' },
  });
  await expect('behind a proxy (X-Forwarded-*)', {
    port: express as number,
    path: '/users/3',
    headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.1', 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': 'https' },
  });
  await expect('a body read in listeners, a call from one', {
    port: plain as number,
    path: '/plain/body',
    method: 'POST',
    body: 'x'.repeat(100_000),
  });
  await expect('early hints', { port: plain as number, path: '/plain/hints' });
  await expect('a Lambda-style invocation (serverless-http)', { port: plain as number, path: '/plain/lambda' });
  await expect('a server that never listens, its throw caught', { port: plain as number, path: '/plain/detached' });
  await expect('handed to a server that never listens, as an untraced path', { port: plain as number, path: '/plain/detached-untraced' });
  await expect("a response with an emit of its own that skips the prototype's", { port: plain as number, path: '/plain/own-emit' });
  await expect("a throw in a handler run from an async 'checkContinue'", {
    port: plain as number,
    path: '/plain/continue-throw',
    method: 'POST',
    headers: { expect: '100-continue' },
    body: 'x',
    abortAfter: 500,
  });
  await expect('a 418', { port: plain as number, path: '/plain/teapot' });
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  for (const n of [1, 2, 3]) await expect(`keep-alive request ${n}`, { port: plain as number, path: `/plain/kept-${n}`, agent: keepAlive });
  keepAlive.destroy();
  await expect('aborted by the client', { port: plain as number, path: '/plain/slow', abortAfter: 300 });
  await expect('over TLS', { port: secure as number, path: '/secure/page?q=1', secure: true });
  assert.deepEqual(statuses, [
    ['route with a parameter', 200],
    ['router, parameter, presigned query', 200],
    ['POST with a JSON body', 201],
    ['routers in routers, parameters merged', 200],
    ['a route passing on with next()', 200],
    ["next('route')", 200],
    ['a route of several paths', 200],
    ['a route pattern', 200],
    ['a throw in a handler', 500],
    ['a throw in a middleware', 500],
    ["the app's own error handler", 422],
    ['an async middleware that rejects, an async error handler', 503],
    ["the app's layers, listed", 200],
    ["a shared client's callback 1", 200],
    ["a shared client's callback 2", 200],
    ["a shared client's callback 3", 200],
    ['a 503', 503],
    ["an error passed to Express's next()", 500],
    ['a redirect', 302],
    ['a call to another service', 200],
    ["Express's own 404", 404],
    ['an untraced path', 404],
    ['a method outside the standard ones', 404],
    ['behind a proxy (Forwarded)', 200],
    ['behind a proxy (X-Forwarded-*)', 200],
    ['a body read in listeners, a call from one', 200],
    ['early hints', 200],
    ['a Lambda-style invocation (serverless-http)', 200],
    ['a server that never listens, its throw caught', 500],
    ['handed to a server that never listens, as an untraced path', 200],
    ["a response with an emit of its own that skips the prototype's", 200],
    ["a throw in a handler run from an async 'checkContinue'", 0],
    ['a 418', 418],
    ['keep-alive request 1', 200],
    ['keep-alive request 2', 200],
    ['keep-alive request 3', 200],
    ['aborted by the client', 0],
    ['over TLS', 200],
  ]);
}

describe('HTTP servers and Express: ours and the upstream instrumentations send the same', () => {
  for (const [express, layers] of [
    [5, 'request_handler'],
    [5, 'all'],
    [4, 'request_handler'],
    [4, 'all'],
  ] as const) {
    it(`spans, attributes, parents, status, exceptions and duration histograms, request by request: Express ${express}, OTEL_NODE_EXPRESS_LAYERS=${layers}`, async () => {
      const runs = await Promise.all(
        (['ours', 'upstream'] as const).map(async (mode) => {
          const service = `http-server-${express}-${layers}-${mode}`;
          const app = startApp('http-servers.cjs', {
            receiver: fixture.receiver,
            env: {
              OTEL_SERVICE_NAME: service,
              OTEL_NODE_UNTRACED_PATHS: '/health',
              OTEL_METRIC_EXPORT_INTERVAL: '200',
              OTEL_NODE_EXPRESS_LAYERS: layers,
              ...(express === 4 ? { EXPRESS_FROM: fixtureDir('express4') } : {}),
              ...(mode === 'upstream' ? { OTEL_NODE_UPSTREAM_INSTRUMENTATIONS: 'http,express' } : {}),
            },
          });
          const match = await app.waitForStdout(/listening (\d+) (\d+) (\d+)/);
          const ports = match.slice(1, 4).map(Number);
          await exercise(ports).catch((error: Error) => {
            throw new Error(`${mode}: ${error.message}\nstderr: ${app.stderr()}`);
          });
          const last = await sentinel(app, fixture.receiver);
          const mine = (span: ReceivedSpan) => span.resource['service.name'] === service && span.traceId !== last;
          // The aborted request's span ends when its socket closes, which the sentinel may overtake.
          const spans = await fixture.receiver.waitFor((all) =>
            all.some((span) => mine(span) && span.kind === SERVER && span.attributes['url.path'] === '/plain/slow'),
          );
          const metrics = () => fixture.receiver.metrics.filter((metric) => metric.resource['service.name'] === service);
          // One data point count per server span, the sentinel's included.
          const servers = spans.filter((span) => span.resource['service.name'] === service && span.kind === SERVER).length;
          const served = (all: readonly ReceivedMetric[]) =>
            points(all, 'http.server.request.duration').reduce((sum, point) => sum + (point.count ?? 0), 0);
          await fixture.receiver
            .waitForMetrics(() => served(metrics()) === servers, 15_000)
            .catch((error: Error) => {
              throw new Error(`${mode}: ${served(metrics())} requests measured, ${servers} server spans: ${error.message}`);
            });
          return { mode, spans: shapes(spans.filter(mine), ports), metrics: metrics(), ports };
        }),
      );
      const [ours, upstream] = runs as [(typeof runs)[0], (typeof runs)[0]];
      assert.ok(
        ours.spans.some((span) => span.kind === SERVER && span.name === 'GET /api/items/:item'),
        'the Express route names the server span',
      );
      assert.deepEqual(ours.spans, upstream.spans);
      for (const name of ['http.server.request.duration', 'http.client.request.duration']) {
        const [mine, theirs] = [points(ours.metrics, name, ours.ports), points(upstream.metrics, name, upstream.ports)];
        const only = (a: typeof mine, b: typeof mine) =>
          a.filter((point) => !b.some((other) => JSON.stringify(other) === JSON.stringify(point)));
        assert.deepEqual(
          mine,
          theirs,
          `${name}: only ours ${JSON.stringify(only(mine, theirs))}, only upstream's ${JSON.stringify(only(theirs, mine))}`,
        );
      }
    });
  }
});
