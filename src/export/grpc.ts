// OTLP over gRPC, on node:http2: an export is one unary call, a POST of one length-prefixed message
// whose outcome is a status in the trailers. That is all OTLP asks of gRPC. @grpc/grpc-js, with the
// protobufjs it loads, was 60 % of the export thread's bundle, and loading it was most of the time
// between a process's first span and the thread's first answer, which a short-lived process waits
// for at exit.
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants, type IncomingHttpHeaders } from 'node:http2';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { type SecureContextOptions, connect as tlsConnect } from 'node:tls';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { ExportResponse, IExporterTransport } from '@opentelemetry/otlp-exporter-base';
import { tlsReason } from '../log.js';

/** gRPC's status codes, by number: a failed export's error has the number as `code`, as grpc-js's had. */
const STATUS = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;
type Status = (typeof STATUS)[number];
const code = (status: Status) => STATUS.indexOf(status);

/** A reply that is not gRPC's, by its HTTP status (gRPC's "HTTP to gRPC status code mapping"). */
function statusOfHttp(httpStatus: number): Status {
  if (httpStatus === 400) return 'INTERNAL';
  if (httpStatus === 401) return 'UNAUTHENTICATED';
  if (httpStatus === 403) return 'PERMISSION_DENIED';
  if (httpStatus === 404) return 'UNIMPLEMENTED';
  if ([429, 502, 503, 504].includes(httpStatus)) return 'UNAVAILABLE';
  return 'UNKNOWN';
}

export class GrpcError extends Error {
  readonly code: number;
  readonly details: string;
  constructor(status: Status, details: string) {
    super(`${code(status)} ${status}: ${details}`);
    this.code = code(status);
    this.details = details;
  }
}

export interface GrpcTarget {
  /** http:// or https://, host and port; a path is ignored, as gRPC's is the method's. */
  readonly url: string;
  /** The method, `/package.Service/Method`. */
  readonly path: string;
  /** Sent as metadata with every call. */
  readonly headers: Readonly<Record<string, string>>;
  readonly compression: 'gzip' | 'none';
  readonly tls: SecureContextOptions;
  readonly userAgent: string;
}

/**
 * Metadata gRPC would refuse, refused when the exporter is made, as grpc-js's `Metadata` did: one
 * line at start, not a failure per export. The value is not in the message, since headers carry keys.
 */
function checkedHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (!/^[0-9a-z_.-]+$/.test(key) || key.endsWith('-bin')) throw new Error(`the header name "${name}" is not a gRPC metadata key`);
    if (!/^[ -~]*$/.test(value)) throw new Error(`the value of the header "${name}" has characters gRPC metadata cannot carry`);
    checked[key] = value;
  }
  return checked;
}

/** A connection to the collector and how many calls are on it. */
interface Connection {
  readonly session: ClientHttp2Session;
  /**
   * Ours to destroy. After a GOAWAY, Node ends its side and waits for the collector to close the
   * other, which a peer may never do (Node's own http2 server does not), and `close()` waits for a
   * call still connecting: a connection given up on is destroyed with its socket.
   */
  readonly socket: Socket;
  calls: number;
  /** No new calls go on it; it ends with its last call. */
  retired: boolean;
  /** Why it failed, which says more than its streams' own errors. */
  error?: Error;
}

/** Upstream's exporter transport interface: the retries, timeouts and partial-success handling stay upstream's. */
export class GrpcTransport implements IExporterTransport {
  readonly #target: GrpcTarget;
  readonly #url: URL;
  readonly #headers: Record<string, string>;
  #connection: Connection | undefined;
  #shutDown = false;

  constructor(target: GrpcTarget) {
    this.#target = target;
    this.#url = new URL(target.url);
    this.#headers = checkedHeaders(target.headers);
  }

  send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (response: ExportResponse) => {
        if (settled) return;
        settled = true;
        resolve(response);
      };
      const failure = (status: Status, details: string) => settle({ status: 'failure', error: new GrpcError(status, details) });
      if (this.#shutDown) return failure('UNAVAILABLE', 'the exporter is shut down');
      let connection: Connection;
      let stream: ClientHttp2Stream;
      const gzip = this.#target.compression === 'gzip';
      try {
        connection = this.#connected();
        stream = connection.session.request({
          ...this.#headers,
          [constants.HTTP2_HEADER_METHOD]: 'POST',
          [constants.HTTP2_HEADER_PATH]: this.#target.path,
          // Node writes an IPv6 address without its brackets.
          [constants.HTTP2_HEADER_AUTHORITY]: this.#url.host,
          [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
          [constants.HTTP2_HEADER_TE]: 'trailers',
          [constants.HTTP2_HEADER_USER_AGENT]: this.#target.userAgent,
          'grpc-timeout': timeoutHeader(timeoutMillis),
          'grpc-accept-encoding': 'identity,gzip',
          ...(gzip ? { 'grpc-encoding': 'gzip' } : {}),
        });
      } catch (error) {
        failure('UNAVAILABLE', `cannot start the call (${(error as Error).message})`);
        return;
      }
      connection.calls++;
      let headers: IncomingHttpHeaders | undefined;
      let trailers: IncomingHttpHeaders | undefined;
      let streamError: Error | undefined;
      const chunks: Buffer[] = [];
      // The deadline covers connecting and the TLS handshake too: it answers at once, whatever the
      // stream is waiting for, and a connection not yet up (or silent) is not waited on again.
      const timer = setTimeout(() => {
        failure('DEADLINE_EXCEEDED', `Deadline exceeded after ${timeoutMillis} ms`);
        const connecting = stream.pending || connection.session.connecting;
        if (!connecting) stream.close(constants.NGHTTP2_CANCEL);
        // The other calls waiting for this connection end with it, and say why.
        else connection.error ??= new Error(`connect timed out after ${timeoutMillis} ms`);
        this.#retire(connection, connecting);
      }, timeoutMillis);
      stream.on('response', (received) => {
        headers = received;
      });
      stream.on('trailers', (received) => {
        trailers = received;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error) => {
        streamError = error;
      });
      stream.on('close', () => {
        clearTimeout(timer);
        connection.calls--;
        if (connection.retired && connection.calls === 0) this.#retire(connection, true);
        if (settled) return;
        // A trailers-only reply (an error straight away) carries its status in the headers.
        const status = trailers?.['grpc-status'] ?? headers?.['grpc-status'];
        if (status !== undefined) {
          const number = Number(status);
          if (number === 0) {
            try {
              return settle({ status: 'success', data: message(Buffer.concat(chunks), headers) });
            } catch (error) {
              return failure('INTERNAL', `the reply does not parse (${(error as Error).message})`);
            }
          }
          const details = decodeMessage(trailers?.['grpc-message'] ?? headers?.['grpc-message']);
          return failure(STATUS[number] ?? 'UNKNOWN', details);
        }
        const httpStatus = Number(headers?.[constants.HTTP2_HEADER_STATUS]);
        if (httpStatus && httpStatus !== 200) return failure(statusOfHttp(httpStatus), `Received HTTP status code ${httpStatus}`);
        const dropped = connection.session.destroyed || connection.socket.destroyed || connection.socket.readableEnded;
        // Without a status, the call failed below gRPC: the connection is not trusted with another
        // (a stream error such as ENHANCE_YOUR_CALM can leave the session refusing every new one).
        this.#retire(connection, connection.calls === 0);
        // A stream cancelled by its connection's failure has that failure as its cause.
        const cause = connection.error ?? (streamError?.cause as Error | undefined) ?? streamError;
        if (cause) return failure('UNAVAILABLE', tlsReason(cause));
        if (dropped) return failure('UNAVAILABLE', 'Connection dropped');
        failure(
          stream.rstCode === constants.NGHTTP2_REFUSED_STREAM ? 'UNAVAILABLE' : 'INTERNAL',
          `Received RST_STREAM with code ${stream.rstCode}`,
        );
      });
      stream.end(framed(data, gzip));
    });
  }

  shutdown(): void {
    this.#shutDown = true;
    if (this.#connection) this.#retire(this.#connection);
  }

  /** One connection for every call, as long as it lasts; a new one after it fails or the collector ends it. */
  #connected(): Connection {
    const current = this.#connection;
    if (current && !current.session.closed && !current.session.destroyed) return current;
    const socket = this.#socket();
    const session = connect(this.#url.origin, {
      createConnection: () => socket,
      // As grpc-js: Node's default (10 MB) counts a batch the collector refused unread against every
      // later call, which then fails with ENHANCE_YOUR_CALM; the export queue bounds what is sent.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    });
    const connection: Connection = { session, socket, calls: 0, retired: false };
    session.on('error', (error) => {
      connection.error = error;
      this.#retire(connection, true);
    });
    // A collector's GOAWAY (its max_connection_age, say) lets the calls on it finish.
    session.on('goaway', () => this.#retire(connection));
    session.on('close', () => this.#retire(connection, true));
    this.#connection = connection;
    return connection;
  }

  /** As Node's http2 `connect` makes it: TLS with ALPN h2 and the host's name (not an address's) for SNI. */
  #socket(): Socket {
    const { hostname, port, protocol } = this.#url;
    const host = hostname.replace(/^\[|\]$/g, '');
    if (protocol === 'http:') return netConnect({ host, port: Number(port) || 80 });
    return tlsConnect({
      ...this.#target.tls,
      host,
      port: Number(port) || 443,
      ALPNProtocols: ['h2'],
      ...(isIP(host) ? {} : { servername: host }),
    });
  }

  /** No new call goes on it; it ends with its last call, or now when `now` (a failed or silent connection). */
  #retire(connection: Connection, now = false): void {
    if (this.#connection === connection) this.#connection = undefined;
    connection.retired = true;
    if (now || connection.calls === 0) {
      connection.session.destroy();
      connection.socket.destroy();
    } else if (!connection.session.closed) {
      connection.session.close();
    }
  }
}

/** gRPC's length-prefixed message: a compressed flag, 4 bytes of length, the message. */
function framed(data: Uint8Array, gzip: boolean): Buffer {
  const body = gzip ? gzipSync(data) : data;
  const frame = Buffer.allocUnsafe(5 + body.length);
  frame[0] = gzip ? 1 : 0;
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  return frame;
}

/** The reply's one message, unframed; an OTLP reply may have none. */
function message(body: Buffer, headers: IncomingHttpHeaders | undefined): Uint8Array | undefined {
  if (body.length === 0) return undefined;
  if (body.length < 5) throw new Error(`${body.length} bytes`);
  const length = body.readUInt32BE(1);
  const payload = body.subarray(5, 5 + length);
  if (payload.length < length) throw new Error(`${payload.length} of ${length} bytes`);
  if (body[0] !== 1) return payload;
  if (headers?.['grpc-encoding'] !== 'gzip') throw new Error(`compressed with ${headers?.['grpc-encoding'] ?? 'nothing named'}`);
  return gunzipSync(payload);
}

/** At most 8 digits, in the largest unit that fits (gRPC's Timeout header). */
function timeoutHeader(millis: number): string {
  const whole = Math.max(1, Math.ceil(millis));
  return whole < 1e8 ? `${whole}m` : `${Math.min(Math.ceil(whole / 1000), 99_999_999)}S`;
}

/** grpc-message is percent-encoded UTF-8. */
function decodeMessage(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
