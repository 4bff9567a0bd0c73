// A short CommonJS script: three outgoing HTTP calls, then it ends.
const http = require('node:http');

const call = (path) =>
  new Promise((resolve, reject) => http.get(`${process.env.TARGET_URL}${path}`, (r) => r.resume().on('end', resolve)).on('error', reject));

(async () => {
  for (const n of [1, 2, 3]) await call(`/call/${n}`);
})();
