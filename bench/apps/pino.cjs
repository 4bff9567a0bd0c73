// An Express service that logs LINES records with pino to a file (/dev/null) inside each request, as
// services do: the per-record cost of log sending, and the throughput of a service that logs.
const express = require('express');
const pino = require('pino');

const lines = Number(process.env.LINES ?? 2);
const log = pino(pino.destination({ dest: '/dev/null', sync: true }));
const app = express();
app.get('/__rss', (_request, response) => response.send(String(process.memoryUsage().rss)));
// The process's CPU time, every thread's (the export thread's included), and the CPU time of the
// app's own thread, both in µs. The thread's own clock (Linux's per-thread stat), not its event loop's
// active time: on a machine whose cores are all busy, that also counts the time other threads held
// the core this one waited for.
const { readFileSync } = require('node:fs');
// Linux counts thread time in USER_HZ ticks, 100 a second whatever the architecture.
const TICK_MICROS = 10_000;
const appThreadMicros = () => {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MICROS;
};
app.get('/__cpu', (_request, response) => {
  const { user, system } = process.cpuUsage();
  response.json({ all: user + system, app: appThreadMicros() });
});
app.get('/users/:id', (request, response) => {
  for (let i = 0; i < lines; i++) log.info({ user: request.params.id, i }, 'loading the user');
  response.json({ id: request.params.id, name: 'Ada' });
});
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
