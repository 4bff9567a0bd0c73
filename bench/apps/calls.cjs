// Outgoing calls to TARGET_URL, CALLS of them measured after a warm-up, 10 at a time, made with
// fetch or, with CLIENT=http, node:http's get (on its global agent, which keeps sockets alive):
// prints the process's CPU time per call (every thread's, the export thread's included), then ends.
const http = require('node:http');

const CALLS = Number(process.env.CALLS ?? 20_000);
const url = `${process.env.TARGET_URL}/inventory/7?fields=count`;
const viaHttp = () =>
  new Promise((resolve, reject) => http.get(url, (response) => response.resume().on('end', resolve)).on('error', reject));
const viaFetch = async () => (await fetch(url)).text();
const call = process.env.CLIENT === 'http' ? viaHttp : viaFetch;

async function calls(times) {
  let left = times;
  const caller = async () => {
    while (left-- > 0) await call();
  };
  await Promise.all(Array.from({ length: 10 }, caller));
}

(async () => {
  await calls(5_000);
  const before = process.cpuUsage();
  await calls(CALLS);
  const { user, system } = process.cpuUsage(before);
  console.log(`cpu per call ${(user + system) / CALLS}`);
})();
