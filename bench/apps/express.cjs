// A small Express service: one JSON route with a parameter.
const express = require('express');

const app = express();
app.get('/__rss', (_request, response) => response.send(String(process.memoryUsage().rss)));
app.get('/users/:id', (request, response) => response.json({ id: request.params.id, name: 'Ada' }));
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
