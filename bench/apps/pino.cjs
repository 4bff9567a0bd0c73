// An Express service that logs LINES records with pino to a file (/dev/null) inside each request, as
// services do: the per-record cost of log sending, and the throughput of a service that logs.
const express = require('express');
const pino = require('pino');

const lines = Number(process.env.LINES ?? 2);
const log = pino(pino.destination({ dest: '/dev/null', sync: true }));
const app = express();
app.get('/__rss', (_request, response) => response.send(String(process.memoryUsage().rss)));
// The process's CPU time, every thread's (the export thread's included), and the time the app's own
// thread was busy (its event loop's active time), both in µs.
const { performance } = require('node:perf_hooks');
app.get('/__cpu', (_request, response) => {
  const { user, system } = process.cpuUsage();
  response.json({ all: user + system, app: performance.eventLoopUtilization().active * 1000 });
});
app.get('/users/:id', (request, response) => {
  for (let i = 0; i < lines; i++) log.info({ user: request.params.id, i }, 'loading the user');
  response.json({ id: request.params.id, name: 'Ada' });
});
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
