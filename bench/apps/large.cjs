// A service with a realistic dependency set: everything is imported (as a real service would at
// start-up), nothing is connected, and Express serves.
require('pg');
require('ioredis');
require('mongodb');
require('kafkajs');
require('graphql');
require('mysql2');
const express = require('express');

const app = express();
app.get('/__rss', (_request, response) => response.send(String(process.memoryUsage().rss)));
app.get('/users/:id', (request, response) => response.json({ id: request.params.id }));
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
