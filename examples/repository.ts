// Repository: the pg instrumentation records every query (db.system.name, db.query.text,
// db.namespace, server.address); a span per repository method groups them under the operation the
// service asked for, and names the table.
// Run: DATABASE_URL=postgres://… OTEL_ENABLED=true node --import tsx --import @rustok/otel/register examples/repository.ts
import { traced } from '@rustok/otel';
import pg from 'pg';

interface Product {
  id: number;
  name: string;
  priceCents: number;
}

class ProductRepository {
  constructor(private readonly db: pg.Pool) {}

  migrate(): Promise<unknown> {
    return this.db.query('CREATE TABLE IF NOT EXISTS products (id serial PRIMARY KEY, name text NOT NULL, price_cents int NOT NULL)');
  }

  insert(name: string, priceCents: number): Promise<Product> {
    return traced(
      'ProductRepository.insert',
      async () => {
        const { rows } = await this.db.query<Product>(
          'INSERT INTO products (name, price_cents) VALUES ($1, $2) RETURNING id, name, price_cents AS "priceCents"',
          [name, priceCents],
        );
        return rows[0]!;
      },
      { 'db.system.name': 'postgresql', 'db.collection.name': 'products' },
    );
  }

  findById(id: number): Promise<Product | undefined> {
    return traced(
      'ProductRepository.findById',
      async () => {
        const { rows } = await this.db.query<Product>('SELECT id, name, price_cents AS "priceCents" FROM products WHERE id = $1', [id]);
        return rows[0];
      },
      { 'db.system.name': 'postgresql', 'db.collection.name': 'products', 'product.id': id },
    );
  }
}

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const products = new ProductRepository(pool);
await products.migrate();
const lamp = await products.insert('lamp', 2999);
console.log(await products.findById(lamp.id));
await pool.end();
