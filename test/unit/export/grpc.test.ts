import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { createServer as createNetServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GrpcError, type GrpcTarget, GrpcTransport } from '../../../src/export/grpc.js';

const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
/** Everything but the collector's URL. */
const TARGET = { path: PATH, headers: {}, compression: 'none', tls: {}, userAgent: 'test-agent' } as const;

interface Call {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** An HTTP/2 server that answers each call as `answer` says, and keeps what each call sent. */
async function collector(answer: (stream: ServerHttp2Stream, call: Call) => void) {
  const calls: Call[] = [];
  let sessions = 0;
  const server: Http2Server = createServer();
  server.on('session', () => sessions++);
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const call = { headers, body: Buffer.concat(chunks) };
      calls.push(call);
      answer(stream, call);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  after(() => {
    server.close();
    for (const transport of transports) transport.shutdown();
  });
  const transports: GrpcTransport[] = [];
  return {
    calls,
    sessions: () => sessions,
    server,
    transport(target: Partial<GrpcTarget> = {}) {
      const transport = new GrpcTransport({ ...TARGET, url: `http://127.0.0.1:${port}`, ...target });
      transports.push(transport);
      return transport;
    },
  };
}

function frame(message: Buffer, compressed = false): Buffer {
  const header = Buffer.alloc(5);
  header[0] = compressed ? 1 : 0;
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** A gRPC reply: headers, the message if any, the status in the trailers. */
function reply(stream: ServerHttp2Stream, status: number, message?: Buffer, extra: Record<string, string> = {}) {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...extra }, { waitForTrailers: true });
  stream.on('wantTrailers', () =>
    stream.sendTrailers({ 'grpc-status': String(status), 'grpc-message': encodeURIComponent('said the test') }),
  );
  stream.end(message ? frame(message, extra['grpc-encoding'] === 'gzip') : undefined);
}

const REQUEST = Buffer.from('an export request');

function failure(result: Awaited<ReturnType<GrpcTransport['send']>>): GrpcError {
  assert.equal(result.status, 'failure');
  const { error } = result as { error: unknown };
  assert.ok(error instanceof GrpcError);
  return error;
}

describe('the gRPC transport', () => {
  it('sends one framed message with the metadata, and returns the reply’s message', async () => {
    const server = await collector((stream) => reply(stream, 0, Buffer.from('partial success')));
    const result = await server.transport({ headers: { 'Api-Key': 'k1', 'x-tenant': 'blue' } }).send(REQUEST, 1500);
    assert.deepEqual(result, { status: 'success', data: Buffer.from('partial success') });
    const [call] = server.calls;
    assert.equal(call?.headers[':method'], 'POST');
    assert.equal(call?.headers[':path'], PATH);
    assert.equal(call?.headers['content-type'], 'application/grpc');
    assert.equal(call?.headers.te, 'trailers');
    assert.equal(call?.headers['grpc-timeout'], '1500m');
    assert.equal(call?.headers['user-agent'], 'test-agent');
    assert.equal(call?.headers['api-key'], 'k1');
    assert.equal(call?.headers['x-tenant'], 'blue');
    assert.equal(call?.headers['grpc-encoding'], undefined);
    assert.deepEqual(call?.body, frame(REQUEST));
  });

  it('compresses with gzip when told to, and reads a compressed reply', async () => {
    const server = await collector((stream) => reply(stream, 0, gzipSync('compressed reply'), { 'grpc-encoding': 'gzip' }));
    const result = await server.transport({ compression: 'gzip' }).send(REQUEST, 1000);
    assert.deepEqual(result, { status: 'success', data: Buffer.from('compressed reply') });
    const [call] = server.calls;
    assert.equal(call?.headers['grpc-encoding'], 'gzip');
    assert.equal(call?.body[0], 1);
    assert.equal(call?.body.readUInt32BE(1), (call?.body.length ?? 0) - 5);
    assert.deepEqual(gunzipSync(call?.body.subarray(5) ?? Buffer.alloc(0)), REQUEST);
  });

  it('takes no message for a success without one', async () => {
    const server = await collector((stream) => reply(stream, 0));
    assert.deepEqual(await server.transport().send(REQUEST, 1000), { status: 'success', data: undefined });
  });

  it('fails with the status and message of the trailers, as grpc-js said them', async () => {
    const server = await collector((stream) => reply(stream, 14));
    const error = failure(await server.transport().send(REQUEST, 1000));
    assert.equal(error.code, 14);
    assert.equal(error.message, '14 UNAVAILABLE: said the test');
  });

  it('reads the status of a trailers-only reply from its headers', async () => {
    const server = await collector((stream) =>
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'bad%20key' },
        { endStream: true },
      ),
    );
    const error = failure(await server.transport().send(REQUEST, 1000));
    assert.equal(error.message, '16 UNAUTHENTICATED: bad key');
  });

  it('maps a reply that is not gRPC’s by its HTTP status', async () => {
    const server = await collector((stream) => stream.respond({ ':status': 404 }, { endStream: true }));
    const error = failure(await server.transport().send(REQUEST, 1000));
    assert.equal(error.message, '12 UNIMPLEMENTED: Received HTTP status code 404');
  });

  it('gives up at the deadline, and the next call goes on a new connection', async () => {
    let first = true;
    const server = await collector((stream) => {
      if (first) first = false;
      else reply(stream, 0);
    });
    const transport = server.transport();
    const error = failure(await transport.send(REQUEST, 200));
    assert.equal(error.code, 4);
    assert.match(error.message, /^4 DEADLINE_EXCEEDED: Deadline exceeded after 200 ms$/);
    assert.equal((await transport.send(REQUEST, 1000)).status, 'success');
    assert.equal(server.sessions(), 2);
  });

  it('keeps one connection for many calls, and opens another once the collector closes it', async () => {
    const server = await collector((stream) => reply(stream, 0));
    const transport = server.transport();
    await Promise.all([transport.send(REQUEST, 1000), transport.send(REQUEST, 1000)]);
    assert.equal((await transport.send(REQUEST, 1000)).status, 'success');
    assert.equal(server.sessions(), 1);
    const closed = once(server.server, 'session');
    server.server.once('stream', (stream) => stream.session?.goaway());
    await transport.send(REQUEST, 1000);
    assert.equal((await transport.send(REQUEST, 1000)).status, 'success');
    await closed;
    assert.equal(server.sessions(), 2);
  });

  it('fails with the connection’s error where nothing listens', async () => {
    const server = await collector(() => {});
    server.server.close();
    await once(server.server, 'close');
    const error = failure(await server.transport().send(REQUEST, 1000));
    assert.equal(error.code, 14);
    assert.match(error.message, /^14 UNAVAILABLE: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });

  it('answers at the deadline while the TLS handshake hangs, and gives that connection up', async () => {
    const sockets: Socket[] = [];
    // It reads what comes, so that it sees the client go, and answers nothing.
    const silent = createNetServer((socket) => sockets.push(socket.resume())).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    after(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });
    const { port } = silent.address() as { port: number };
    const transport = new GrpcTransport({ ...TARGET, url: `https://127.0.0.1:${port}` });
    const started = performance.now();
    const waiting = transport.send(REQUEST, 2000);
    const error = failure(await transport.send(REQUEST, 300));
    assert.equal(error.code, 4);
    assert.ok(performance.now() - started < 5000);
    // A call that waited for the same connection ends with it, and says why.
    assert.equal(failure(await waiting).message, '14 UNAVAILABLE: connect timed out after 300 ms');
    const [socket] = sockets;
    if (socket && !socket.closed) await once(socket, 'close');
  });

  it('keeps its connection after the collector refused a batch larger than Node’s session memory unread', async () => {
    const server = createServer();
    server.on('stream', (stream) =>
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '8', 'grpc-message': 'too%20large' },
        { endStream: true },
      ),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const transport = new GrpcTransport({ ...TARGET, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
    after(() => {
      transport.shutdown();
      server.close();
    });
    assert.equal(failure(await transport.send(Buffer.alloc(11 * 2 ** 20), 5000)).message, '8 RESOURCE_EXHAUSTED: too large');
    for (let i = 0; i < 3; i++) assert.equal(failure(await transport.send(REQUEST, 5000)).message, '8 RESOURCE_EXHAUSTED: too large');
  });

  it('says the connection dropped when the collector closes it mid-call', async () => {
    const server = await collector((stream) => stream.session?.destroy());
    const error = failure(await server.transport().send(REQUEST, 1000));
    assert.equal(error.code, 14);
    assert.doesNotMatch(error.message, /RST_STREAM/);
  });

  it('refuses calls once shut down, without a connection', async () => {
    const server = await collector((stream) => reply(stream, 0));
    const transport = server.transport();
    transport.shutdown();
    assert.equal(failure(await transport.send(REQUEST, 1000)).message, '14 UNAVAILABLE: the exporter is shut down');
    assert.equal(server.sessions(), 0);
  });

  it('refuses metadata gRPC cannot carry when it is made, without showing the value', () => {
    const target = { ...TARGET, url: 'http://127.0.0.1:1' };
    assert.throws(
      () => new GrpcTransport({ ...target, headers: { 'api key': 'SECRET-1' } }),
      /the header name "api key" is not a gRPC metadata key/,
    );
    assert.throws(
      () => new GrpcTransport({ ...target, headers: { 'api-key': 'SECRET-2\n' } }),
      (error: Error) => /the value of the header "api-key" has characters/.test(error.message) && !error.message.includes('SECRET'),
    );
  });
});
