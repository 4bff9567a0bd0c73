// A service as services are: an Express route that reads a row from PostgreSQL, calls another service
// over HTTP (fetch) and answers JSON. What tracing costs it per request, where the app's own work is
// not the empty handler of express.cjs.
const express = require('express');
const { Pool } = require('pg');
const measure = require('./measure.cjs');

const pool = new Pool({ connectionString: process.env.PG_URL, max: 10 });
const app = express();
measure(app);
app.get('/orders/:id', async (request, response, next) => {
  try {
    const { rows } = await pool.query('SELECT id, customer, total FROM orders WHERE id = $1', [Number(request.params.id)]);
    const stock = await fetch(`${process.env.TARGET_URL}/inventory/${request.params.id}`);
    response.json({ order: rows[0], stock: await stock.text() });
  } catch (error) {
    next(error);
  }
});
pool
  .query(
    `CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, customer text NOT NULL, total numeric NOT NULL);
     INSERT INTO orders SELECT n, 'customer ' || n, n * 1.5 FROM generate_series(1, 1000) AS n ON CONFLICT DO NOTHING`,
  )
  .then(() => {
    const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
  });
