// A plain node:http service.
const http = require('node:http');

const server = http.createServer((request, response) => {
  if (request.url === '/__rss') return response.end(String(process.memoryUsage().rss));
  response.setHeader('content-type', 'application/json');
  response.end('{"ok":true}');
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
