// The routes through which the benchmark reads what an app costs: /__rss, and /__cpu with the
// process's CPU time, every thread's (the export thread's included), and the CPU time of the app's
// own thread, both in µs. The thread's own clock (Linux's per-thread stat), not its event loop's
// active time: on a machine whose cores are all busy, that also counts the time other threads held
// the core this one waited for.
const { readFileSync } = require('node:fs');

// Linux counts thread time in USER_HZ ticks, 100 a second whatever the architecture.
const TICK_MICROS = 10_000;
const appThreadMicros = () => {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MICROS;
};

module.exports = (app) => {
  app.get('/__rss', (_request, response) => response.send(String(process.memoryUsage().rss)));
  app.get('/__cpu', (_request, response) => {
    const { user, system } = process.cpuUsage();
    response.json({ all: user + system, app: appThreadMicros() });
  });
};
