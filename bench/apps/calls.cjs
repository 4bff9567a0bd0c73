// Outgoing calls with fetch, CALLS of them measured after a warm-up, 10 at a time, to TARGET_URL:
// prints the process's CPU time per call (every thread's, the export thread's included), then ends.
const CALLS = Number(process.env.CALLS ?? 20_000);
const url = `${process.env.TARGET_URL}/inventory/7?fields=count`;

async function call(times) {
  let left = times;
  const caller = async () => {
    while (left-- > 0) await (await fetch(url)).text();
  };
  await Promise.all(Array.from({ length: 10 }, caller));
}

(async () => {
  await call(5_000);
  const before = process.cpuUsage();
  await call(CALLS);
  const { user, system } = process.cpuUsage(before);
  console.log(`cpu per call ${(user + system) / CALLS}`);
})();
