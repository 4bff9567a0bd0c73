// Ends RATE spans a second for SECONDS seconds through the OpenTelemetry API, then lets the process end.
// One span first and a second's pause, so that the export thread is up before the measured burst.
const { trace } = require('@opentelemetry/api');

const tracer = trace.getTracer('bench');
const rate = Number(process.env.RATE);
const ticks = Number(process.env.SECONDS) * 100;
tracer.startSpan('warm-up').end();
setTimeout(() => {
  let tick = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < rate / 100; i++) tracer.startSpan('synthetic', { attributes: { 'bench.i': i } }).end();
    if (++tick === ticks) clearInterval(timer);
  }, 10);
}, 1000);
