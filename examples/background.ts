// Background work starts from no request, so each run is a trace of its own. A queued job keeps a
// link to the request that queued it instead of stretching that request's trace over the wait.
import { setAttributes, traced, traceHandler, tracePublish } from '@rustok/otel';

interface Job {
  id: string;
  type: string;
  headers?: Record<string, string>;
  payload: { reportId: number };
}

const queue: Job[] = [];

// The request handler queues the work and returns; tracePublish writes its context into the job.
function enqueue(job: Job): void {
  tracePublish(job, () => queue.push(job), { system: 'in_memory_queue' });
}
await traced('ReportController.request', async () => enqueue({ id: 'job-1', type: 'report.render', payload: { reportId: 7 } }));

// The queue worker: each job a trace of its own, linked to the request's.
const renderReport = traceHandler(
  async (job: Job) => traced('render report', async () => console.log(`rendered report ${job.payload.reportId}`)),
  { system: 'in_memory_queue', link: true },
);
for (let job = queue.shift(); job; job = queue.shift()) await renderReport(job);

// A periodic task: each tick its own small trace.
const sessions = new Map([['s-1', Date.now() - 120_000]]);
let ticks = 0;
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    traced('sessions.cleanup', () => {
      let expired = 0;
      for (const [id, seen] of sessions) if (Date.now() - seen > 60_000 && sessions.delete(id)) expired++;
      setAttributes({ 'sessions.expired': expired });
    });
    if (++ticks === 2) {
      clearInterval(timer);
      resolve();
    }
  }, 20);
});
