// Writes RATE pino records a second for SECONDS seconds (to /dev/null), then lets the process end:
// the export capacity for logs. One record first and a second's pause, so that the export thread is
// up before the measured burst.
const pino = require('pino');

const log = pino(pino.destination({ dest: '/dev/null', sync: true }));
const rate = Number(process.env.RATE);
const ticks = Number(process.env.SECONDS) * 100;
log.info('warm-up');
setTimeout(() => {
  let tick = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < rate / 100; i++) log.info({ i }, 'synthetic');
    if (++tick === ticks) clearInterval(timer);
  }, 10);
}, 1000);
