// The transactional outbox, traced end to end: POST /orders writes the order and its event in one
// PostgreSQL transaction; a relay, polling on its own timer, forwards unpublished events to a bus; a
// consumer records each one. The only thing that ties the consumer to the request is the trace
// context stored with the event row, so the whole chain shows up as one trace:
//
//   POST /orders → publish order.placed (outbox row) → process order.placed (relay)
//     → publish order.placed (bus) → process order.placed (consumer) → INSERT order_audit
//
// Run: DATABASE_URL=postgres://… OTEL_ENABLED=true node --import tsx --import @rustok/otel/register examples/outbox.ts
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { traceHandler, tracePublish, untraced } from '@rustok/otel';
import express from 'express';
import pg from 'pg';

interface EventEnvelope<T = unknown> {
  id: string;
  type: string;
  occurredAt: string;
  headers?: Record<string, string>;
  payload: T;
}

interface OrderPlaced {
  orderId: number;
  customer: string;
  totalCents: number;
}

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });

// Schema set-up is not worth a trace.
await untraced(() =>
  pool.query(`
    CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, customer text NOT NULL, total_cents int NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox (
      id uuid PRIMARY KEY, type text NOT NULL, payload jsonb NOT NULL, headers jsonb NOT NULL,
      occurred_at timestamptz NOT NULL, published_at timestamptz);
    CREATE TABLE IF NOT EXISTS order_audit (event_id uuid PRIMARY KEY, order_id int NOT NULL, handled_at timestamptz NOT NULL DEFAULT now());
  `),
);

// The bus: in-process here; Redis, NATS or Kafka carry the same serialised envelope.
const bus = new EventEmitter();
const publishToBus = (envelope: EventEnvelope) =>
  tracePublish(envelope, () => {
    bus.emit(envelope.type, JSON.stringify(envelope));
  });

const recordOrder = traceHandler(async (envelope: EventEnvelope<OrderPlaced>) => {
  await pool.query('INSERT INTO order_audit (event_id, order_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
    envelope.id,
    envelope.payload.orderId,
  ]);
});
bus.on('order.placed', (wire: string) => {
  recordOrder(JSON.parse(wire)).catch((error) => console.error('order.placed:', error));
});

const app = express();
app.use(express.json());

app.post('/orders', async (request, response) => {
  const { customer = 'anonymous', totalCents = 0 } = request.body ?? {};
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: number }>('INSERT INTO orders (customer, total_cents) VALUES ($1, $2) RETURNING id', [
      customer,
      totalCents,
    ]);
    const envelope: EventEnvelope<OrderPlaced> = {
      id: randomUUID(),
      type: 'order.placed',
      occurredAt: new Date().toISOString(),
      payload: { orderId: rows[0]!.id, customer, totalCents },
    };
    // The span's context lands in envelope.headers before the row is written.
    await tracePublish(envelope, () =>
      client.query('INSERT INTO outbox (id, type, payload, headers, occurred_at) VALUES ($1, $2, $3, $4, $5)', [
        envelope.id,
        envelope.type,
        envelope.payload,
        envelope.headers,
        envelope.occurredAt,
      ]),
    );
    await client.query('COMMIT');
    response.status(201).json({ id: envelope.payload.orderId, event: envelope.id });
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
});

// The relay reads rows back as a consumer of the outbox table and republishes them on the bus.
const relay = traceHandler((envelope: EventEnvelope) => publishToBus({ ...envelope, headers: {} }), { system: 'postgresql' });

async function relayOnce(): Promise<void> {
  // The claim runs every 100 ms whether or not there is work: untraced, or it would be most traces.
  const { rows } = await untraced(() =>
    pool.query<{ id: string; type: string; payload: unknown; headers: Record<string, string>; occurred_at: Date }>(`
      UPDATE outbox SET published_at = now()
      WHERE id IN (SELECT id FROM outbox WHERE published_at IS NULL ORDER BY occurred_at LIMIT 10 FOR UPDATE SKIP LOCKED)
      RETURNING id, type, payload, headers, occurred_at`),
  );
  for (const row of rows) {
    await relay({ id: row.id, type: row.type, payload: row.payload, headers: row.headers, occurredAt: row.occurred_at.toISOString() });
  }
}

let relaying = true;
const relayLoop = (async () => {
  while (relaying) {
    await relayOnce().catch((error) => console.error('relay:', error));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
})();

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : address}`);
});

process.once('SIGTERM', async () => {
  relaying = false;
  server.close();
  await relayLoop;
  await pool.end();
});
