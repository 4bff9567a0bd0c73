// The examples docs/INSTRUMENTATION_EXAMPLES.md shows, run as a user runs them: TypeScript through
// tsx, under the installed preload, against a real PostgreSQL and Redis, asserted from the wire.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { type App, EXAMPLES_DIR, startApp, stopApps, WAIT_MS } from '../helpers/app.js';
import { type ReceivedSpan, type Receiver, startReceiver } from '../helpers/receiver.js';
import { type Server, startPostgres, startRedis, stopServers } from '../helpers/services.js';

const SERVER = 2;
const PRODUCER = 4;
const CONSUMER = 5;
const ERROR = 2;

let receiver: Receiver;
let postgres: Server;
let redis: Server;
before(async () => {
  [receiver, postgres, redis] = await Promise.all([startReceiver(), startPostgres(), startRedis()]);
});
after(async () => {
  stopApps();
  await Promise.all([receiver?.close(), stopServers()]);
});
afterEach(stopApps);

let runs = 0;

/** Starts an example under the preload with a service name of its own; its spans are told apart by it. */
function example(file: string, env: Record<string, string> = {}): { app: App; spans: () => ReceivedSpan[] } {
  const service = `example-${++runs}`;
  const app = startApp(`examples/${file}`, {
    receiver,
    cwd: EXAMPLES_DIR,
    nodeArgs: ['--import=tsx'],
    env: { OTEL_SERVICE_NAME: service, DATABASE_URL: postgres.url, REDIS_URL: redis.url, ...env },
  });
  return { app, spans: () => receiver.spans.filter((span) => span.resource['service.name'] === service) };
}

/** Runs a script example to its end and returns its spans once `expected` of them arrived. */
async function runToEnd(file: string, expected: number): Promise<ReceivedSpan[]> {
  const { app, spans } = example(file);
  const exit = await app.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, `${file} failed:\n${app.stderr()}`);
  await receiver.waitFor(() => spans().length >= expected, 10_000).catch(() => {});
  assert.equal(
    spans().length,
    expected,
    `spans of ${file}: ${spans()
      .map((span) => span.name)
      .join(', ')}`,
  );
  return spans();
}

const named = (spans: readonly ReceivedSpan[], name: string | RegExp) => {
  const found = spans.filter((span) => (typeof name === 'string' ? span.name === name : name.test(span.name)));
  assert.ok(found.length > 0, `no span named ${name} among ${spans.map((span) => span.name).join(', ')}`);
  return found;
};
const one = (spans: readonly ReceivedSpan[], name: string | RegExp) => {
  const found = named(spans, name);
  assert.equal(found.length, 1, `one span named ${name}`);
  return found[0]!;
};
const childOf = (child: ReceivedSpan, parent: ReceivedSpan) => {
  assert.equal(child.traceId, parent.traceId, `${child.name} is in the trace of ${parent.name}`);
  assert.equal(child.parentSpanId, parent.spanId, `${child.name} is a child of ${parent.name}`);
};

describe('service layer', () => {
  it('nests traced methods, adds attributes found on the way and records the failure', async () => {
    const spans = await runToEnd('service-layer.ts', 3);
    const [placed, failed] = named(spans, 'CheckoutService.placeOrder').sort((a, b) => Number(a.startNanos - b.startNanos));
    childOf(one(spans, 'CheckoutService.price'), placed!);
    assert.deepEqual(placed!.attributes, {
      'customer.id': 'c-42',
      'order.items': 3,
      'order.id': 'order-3-c-42',
      'order.total_cents': 3750,
    });
    assert.equal(placed!.status.code, 0);
    assert.deepEqual(failed!.status, { code: ERROR, message: 'an order needs at least one item' });
    assert.equal(failed!.events[0]?.attributes['exception.type'], 'RangeError');
  });
});

describe('repository', () => {
  it('puts each pg query, with its db.* attributes, under the repository method', async () => {
    // Each query also gets the pool's connect spans; the migration's query is a trace of its own.
    const spans = await runToEnd('repository.ts', 9);
    for (const [method, statement] of [
      ['ProductRepository.insert', /^INSERT INTO products/],
      ['ProductRepository.findById', /^SELECT id, name, price_cents/],
    ] as const) {
      const parent = one(spans, method);
      assert.equal(parent.attributes['db.collection.name'], 'products');
      const query = spans.find((span) => span.parentSpanId === parent.spanId && span.name.startsWith('pg.query:'));
      assert.ok(query, `a query under ${method}`);
      assert.equal(query.attributes['db.system.name'], 'postgresql');
      assert.match(String(query.attributes['db.query.text']), statement);
      assert.equal(query.attributes['db.namespace'], 'postgres');
    }
  });
});

describe('event bus', () => {
  it('continues the publisher trace in the handler, through the serialised envelope', async () => {
    const spans = await runToEnd('event-bus.ts', 4);
    const register = one(spans, 'UserService.register');
    const publish = one(spans, 'publish user.registered');
    const handle = one(spans, 'process user.registered');
    childOf(publish, register);
    childOf(handle, publish);
    childOf(one(spans, 'send welcome email'), handle);
    assert.equal(publish.kind, PRODUCER);
    assert.equal(handle.kind, CONSUMER);
    assert.deepEqual(handle.attributes, {
      'messaging.system': 'event_bus',
      'messaging.operation.name': 'process',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'user.registered',
      'messaging.message.id': 'evt-1',
    });
  });
});

describe('HTTP handlers', () => {
  for (const framework of ['express', 'fastify']) {
    it(`${framework}: names the server span after the route and nests the handler's own spans`, async () => {
      const { app, spans } = example(`http-${framework}.ts`);
      const response = await app.get('/products/7');
      assert.equal(response.status, 200);
      assert.deepEqual(JSON.parse(response.body), { id: '7', name: 'lamp' });
      await receiver.waitFor(() => spans().some((span) => span.kind === SERVER), 10_000);
      await receiver.waitFor(() => spans().some((span) => span.name === 'load product'), 10_000);
      const server = one(spans(), 'GET /products/:id');
      assert.equal(server.kind, SERVER);
      assert.equal(server.attributes['http.route'], '/products/:id');
      const trace = spans().filter((span) => span.traceId === server.traceId);
      assert.ok(
        trace.some((span) => span.name === 'load product'),
        'the handler span is in the request trace',
      );
      assert.ok(
        trace.some((span) => span.attributes['product.id'] === '7'),
        'the handler added product.id',
      );
    });
  }
});

describe('cache', () => {
  it('records each redis command and whether the lookup hit', async () => {
    // ioredis records only commands made inside a span, so the set-up `del` is not among them.
    const spans = await runToEnd('cache.ts', 6);
    const [miss, hit] = named(spans, 'cache.get_or_load').sort((a, b) => Number(a.startNanos - b.startNanos));
    assert.equal(miss?.attributes['cache.hit'], false);
    assert.equal(hit?.attributes['cache.hit'], true);
    const under = (parent: ReceivedSpan) => spans.filter((span) => span.parentSpanId === parent.spanId);
    assert.deepEqual(
      under(miss!)
        .map((span) => span.name)
        .sort(),
      ['get', 'load profile', 'set'],
    );
    const [get] = under(hit!);
    assert.equal(under(hit!).length, 1);
    assert.equal(get?.name, 'get');
    assert.equal(get?.attributes['db.system.name'], 'redis');
    assert.equal(get?.attributes['db.query.text'], 'get profile:7');
  });
});

describe('background tasks', () => {
  it('runs a queued job in a trace of its own, linked to the request that queued it, and each tick alone', async () => {
    const spans = await runToEnd('background.ts', 6);
    const request = one(spans, 'ReportController.request');
    const enqueue = one(spans, 'publish report.render');
    childOf(enqueue, request);
    const job = one(spans, 'process report.render');
    assert.equal(job.parentSpanId, '', 'the job is a trace of its own');
    assert.deepEqual(job.links, [{ traceId: enqueue.traceId, spanId: enqueue.spanId }]);
    childOf(one(spans, 'render report'), job);
    const ticks = named(spans, 'sessions.cleanup');
    assert.deepEqual(ticks.map((tick) => [tick.parentSpanId, tick.attributes['sessions.expired']]).sort(), [
      ['', 0],
      ['', 1],
    ]);
    assert.notEqual(ticks[0]?.traceId, ticks[1]?.traceId);
  });
});

describe('outbox', () => {
  it('shows the request, the outbox row, the relay and the consumer as one trace', async () => {
    const { app, spans } = example('outbox.ts');
    const port = await app.listening;
    const order = async (customer: string, totalCents: number) => {
      const response = await fetch(`http://127.0.0.1:${port}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ customer, totalCents }),
        signal: AbortSignal.timeout(WAIT_MS),
      });
      assert.equal(response.status, 201);
      return ((await response.json()) as { event: string }).event;
    };
    const event = await order('c-7', 4200);

    const consumed = () => spans().filter((span) => span.kind === CONSUMER && span.attributes['messaging.system'] === 'event_bus');
    const consumerOf = (id: string) => consumed().find((span) => span.attributes['messaging.message.id'] === id);
    const audited = () => spans().some((span) => /order_audit/.test(String(span.attributes['db.query.text'])));
    await receiver.waitFor(() => consumerOf(event) !== undefined && audited(), 15_000);
    // The relay's polling must add no trace, nor pass the row on twice. A second order goes through a later
    // poll: once its consumer's span is in, the spans of every poll before it are in as well. Its trace is left out.
    const later = await order('c-8', 100);
    await receiver.waitFor(() => consumerOf(later) !== undefined, 15_000);
    const all = spans().filter((span) => span.traceId !== consumerOf(later)?.traceId);
    const request = one(all, 'POST /orders');
    const inTrace = all.filter((span) => span.traceId === request.traceId);
    assert.equal(inTrace.length, all.length, `every span is in the request's trace: ${all.map((span) => span.name).join(', ')}`);

    const [toOutbox, toBus] = named(all, 'publish order.placed').sort((a, b) => Number(a.startNanos - b.startNanos));
    const relays = all.filter((span) => span.kind === CONSUMER && span.attributes['messaging.system'] === 'postgresql');
    assert.equal(relays.length, 1, 'the relay handled the row once');
    const relay = relays[0]!;
    const consumer = consumerOf(event)!;
    assert.ok(
      inTrace.some((span) => toOutbox!.parentSpanId === span.spanId),
      'the outbox publish is inside the request',
    );
    const outboxInsert = all.find((span) => span.parentSpanId === toOutbox!.spanId);
    assert.match(String(outboxInsert?.attributes['db.query.text']), /^INSERT INTO outbox/);
    childOf(relay, toOutbox!);
    childOf(toBus!, relay);
    childOf(consumer, toBus!);
    const audit = all.find((span) => span.parentSpanId === consumer.spanId && span.name.startsWith('pg.query:'));
    assert.match(String(audit?.attributes['db.query.text']), /^INSERT INTO order_audit/);
    for (const span of [toOutbox!, relay, toBus!, consumer]) {
      assert.equal(span.attributes['messaging.destination.name'], 'order.placed');
      assert.equal(span.attributes['messaging.message.id'], event);
    }
    assert.equal(toOutbox!.kind, PRODUCER);
    assert.equal(consumer.attributes['messaging.operation.type'], 'process');
  });
});
