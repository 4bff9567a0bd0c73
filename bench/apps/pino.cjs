// An Express service that logs LINES records with pino to a file (/dev/null) inside each request, as
// services do: the per-record cost of log sending, and the throughput of a service that logs.
const express = require('express');
const pino = require('pino');
const measure = require('./measure.cjs');

const lines = Number(process.env.LINES ?? 2);
const log = pino(pino.destination({ dest: '/dev/null', sync: true }));
const app = express();
measure(app);
app.get('/users/:id', (request, response) => {
  for (let i = 0; i < lines; i++) log.info({ user: request.params.id, i }, 'loading the user');
  response.json({ id: request.params.id, name: 'Ada' });
});
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
