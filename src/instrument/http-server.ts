// Server spans and the server duration histogram for node:http and node:https, with the spans and
// metrics of @opentelemetry/instrumentation-http, for less per request. http.Server's `emit` is
// wrapped once, which also covers requests no connection brought (serverless-http emits them
// itself); an https.Server is announced on the 'http.server.request.start' diagnostics channel just
// before its first request, and there gets its own `emit`, so that node:https is loaded only by an
// app that uses it. A request that is not sampled costs a propagation extract, a sampling decision
// and the context it runs in; its attributes, URL parsing included, are built only for a span that
// records, and its histogram attributes (method, scheme, route, status) without either.
import { subscribe } from 'node:diagnostics_channel';
import { errorMonitor } from 'node:events';
import { IncomingMessage, Server, type ServerResponse } from 'node:http';
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import forwardedParse from 'forwarded-parse';
import { type DurationHistogram, markWrapped, normalizedMethod } from './http-conventions.js';
import { messageEvents } from './message-events.js';
import { redactedQuery } from './url-redaction.js';

type Api = typeof import('@opentelemetry/api');
type Core = typeof import('@opentelemetry/core');

export interface HttpServerOptions {
  readonly api: Api;
  readonly core: Core;
  readonly tracer: Tracer;
  /** Where requests' durations go; none with metrics off. */
  readonly histogram: DurationHistogram | undefined;
  /** Requests to run untraced (and unmeasured): the configured untraced paths, a Prometheus scrape. */
  readonly ignore: (request: IncomingMessage) => boolean;
}

const TRACED = Symbol('@rustok/otel.http-server');

type Emit = ((this: unknown, event: string | symbol, ...args: unknown[]) => boolean) & { [TRACED]?: true };

/** Starts tracing the servers of node:http and node:https from their next request on. */
export function traceHttpServers(options: HttpServerOptions): void {
  const handle = requestHandler(options);
  const traced = (emit: Emit): Emit => {
    const emitTraced: Emit = function (this: unknown, event, ...args) {
      if (event !== 'request' || !(args[0] instanceof IncomingMessage)) return emit.apply(this, [event, ...args]);
      return handle(this, emit, args[0], args[1] as ServerResponse, args);
    };
    emitTraced[TRACED] = true;
    return emitTraced;
  };
  const prototype = Server.prototype as unknown as { emit: Emit };
  if (!prototype.emit[TRACED]) {
    const emit = prototype.emit;
    const emitTraced = traced(emit);
    markWrapped(emitTraced, emit, () => {
      if (prototype.emit === emitTraced) prototype.emit = emit;
    });
    prototype.emit = emitTraced;
  }
  subscribe('http.server.request.start', (message) => {
    const { server } = message as { server: { emit: Emit } };
    // Loaded by now if the server is one of its own; an HTTP/2 server answering HTTP/1 is not traced, as by upstream's.
    if (!server.emit[TRACED] && server instanceof require('node:https').Server) server.emit = traced(server.emit);
  });
}

function requestHandler({ api, core, tracer, histogram, ignore }: HttpServerOptions) {
  const { context, propagation, trace, ROOT_CONTEXT, SpanKind, SpanStatusCode } = api;

  const watch = messageEvents(api);
  const runIn = (context: Context, request: IncomingMessage, response: ServerResponse) => {
    const watched = { context };
    watch(request, watched);
    watch(response, watched);
  };

  return function handle(server: unknown, emit: Emit, request: IncomingMessage, response: ServerResponse, args: unknown[]) {
    let ignored: boolean;
    try {
      ignored = ignore(request);
    } catch {
      ignored = false;
    }
    if (ignored) {
      const ctx = core.suppressTracing(context.active());
      return context.with(ctx, () => {
        runIn(ctx, request, response);
        return emit.apply(server, ['request', ...args]);
      });
    }
    const startTime = core.hrTime();
    const scheme = (request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(request.method || 'GET', { kind: SpanKind.SERVER }, parent);
    if (span.isRecording()) span.setAttributes(requestAttributes(request, scheme));
    const rpcMetadata: { type: typeof core.RPCType.HTTP; span: Span; route?: string } = { type: core.RPCType.HTTP, span };
    const ctx = core.setRPCMetadata(trace.setSpan(parent, span), rpcMetadata);
    let ended = false;
    /** `thrown` when the response emitted an error or the app's 'request' listener threw. */
    const end = (thrown?: { error: unknown }) => {
      if (ended) return;
      ended = true;
      const { route } = rpcMetadata;
      const status = response.statusCode;
      const failure = thrown && describeThrown(thrown.error);
      if (thrown && failure) {
        if (failure.name !== undefined) span.setAttribute('error.type', failure.name);
        span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
        recordThrown(span, thrown.error, failure);
      } else {
        span.setAttributes(
          route === undefined ? { 'http.response.status_code': status } : { 'http.response.status_code': status, 'http.route': route },
        );
        span.setStatus({ code: status >= 100 && status < 500 ? SpanStatusCode.UNSET : SpanStatusCode.ERROR });
        if (route) span.updateName(`${request.method || 'GET'} ${route}`);
      }
      span.end();
    };
    let measured = false;
    /**
     * The histogram's point: the attributes known when the request ended, and, after a throw in its
     * handler, those of the answer the app still gave (a 500 its error handler sent counts as one,
     * which is what upstream's point ends up saying too: it changes the attributes it recorded).
     */
    const measure = (answered: boolean, thrownName: string | undefined) => {
      if (measured || !histogram) return;
      measured = true;
      const status = response.statusCode;
      const { route } = rpcMetadata;
      const attributes: Attributes = { 'http.request.method': normalizedMethod(request.method), 'url.scheme': scheme };
      if (request.httpVersion) attributes['network.protocol.version'] = request.httpVersion;
      if (thrownName !== undefined) attributes['error.type'] = thrownName;
      if (answered) {
        if (route !== undefined) attributes['http.route'] = route;
        if (status) {
          attributes['http.response.status_code'] = status;
          if (status >= 500 && status < 600) attributes['error.type'] = String(status);
        }
      }
      histogram.record(duration, attributes);
    };
    let duration = 0;
    const took = () => {
      duration = core.hrTimeToMilliseconds(core.hrTimeDuration(startTime, core.hrTime())) / 1000;
    };
    return context.with(ctx, () => {
      runIn(ctx, request, response);
      let thrownName: string | undefined;
      response.once('close', () => {
        if (ended && thrownName === undefined) return;
        if (!ended) took();
        end();
        measure(true, thrownName);
      });
      // After 'error' a response emits only 'close', which then changes nothing.
      response.once(errorMonitor, (error: unknown) => {
        if (ended) return;
        took();
        end({ error });
        measure(false, describeThrown(error).name ?? '_OTHER');
      });
      try {
        return emit.apply(server, ['request', ...args]);
      } catch (error) {
        // Recorded here: emitted from a promise, the throw would reach no exception monitor before the process ends.
        took();
        end({ error });
        // Measured with the answer the app still gives; a crash first loses it, as it loses the interval's metrics.
        thrownName = describeThrown(error).name ?? '_OTHER';
        throw error;
      }
    });
  };
}

interface Thrown {
  readonly name?: string;
  readonly message?: string;
}

/**
 * The name and message of whatever was thrown, read without throwing: an object with no prototype,
 * or an Error whose `message` getter throws, must reach Node as the app threw it, not as a TypeError
 * of ours (upstream's instrumentation reads both fields unguarded).
 */
function describeThrown(error: unknown): Thrown {
  const read = (field: 'name' | 'message') => {
    try {
      const value = (error as Partial<Error>)[field];
      return typeof value === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  };
  return { name: read('name'), message: read('message') };
}

function recordThrown(span: Span, error: unknown, { name, message }: Thrown): void {
  try {
    span.recordException(error as Error);
  } catch {
    span.recordException(name !== undefined ? { name, message } : (message ?? 'a thrown value with neither name nor message'));
  }
}

/** The request's attributes, as upstream sets them (stable HTTP semantic conventions). */
export function requestAttributes(request: IncomingMessage, scheme: 'http' | 'https'): Attributes {
  const { headers, method } = request;
  const normalized = normalizedMethod(method);
  const server = serverAddress(request, scheme);
  const client = clientAddress(request);
  const attributes: Attributes = {
    'http.request.method': normalized,
    'url.scheme': scheme,
    'server.address': server?.host,
    'network.peer.address': request.socket.remoteAddress,
    'network.peer.port': request.socket.remotePort,
    'network.protocol.version': request.httpVersion,
    'user_agent.original': headers['user-agent'],
  };
  const url = parsedUrl(request, scheme);
  if (url.pathname != null) attributes['url.path'] = url.pathname;
  if (url.search) {
    attributes['url.query'] = redactedQuery(url.search.slice(1));
  }
  if (client != null) attributes['client.address'] = client;
  if (server?.port != null) attributes['server.port'] = Number(server.port);
  if (method !== normalized) attributes['http.request.method_original'] = method;
  return attributes;
}

/** A Host a URL parser takes as it is: a name whose last label starts with a letter, or a dotted quad, and a port. */
const PLAIN_HOST =
  /^(?:(?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*|(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))(?::(\d{1,5}))?$/;
/** A path a URL parser leaves as it is: no characters it escapes, no dot segments, not `//`. */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9\-_~!$&'()*+,;=:@%/.]*$/;

/**
 * url.path and url.query's source, as `new URL(request.url, <scheme>://<host>)` gives them (upstream
 * parses every request so). Most requests need no parser: a plain path and host come out unchanged.
 */
function parsedUrl(request: IncomingMessage, scheme: string): { pathname?: string; search?: string } {
  const target = request.url ?? '/';
  const { host } = request.headers;
  const mark = target.indexOf('?');
  const path = mark === -1 ? target : target.slice(0, mark);
  const hostMatch = host ? PLAIN_HOST.exec(host) : undefined;
  const plainHost = !host || (hostMatch != null && Number(hostMatch[1] ?? 0) <= 65535);
  if (plainHost && PLAIN_PATH.test(path) && !path.includes('/.') && !/%2e/i.test(path) && !/[\t\n\r#]/.test(target)) {
    return { pathname: path, search: mark === -1 || mark === target.length - 1 ? '' : target.slice(mark) };
  }
  try {
    // Without a Host header, 'localhost' stands in only for parsing the path and query.
    return new URL(target, `${scheme}://${host || 'localhost'}`);
  } catch {
    return {};
  }
}

interface HostAndPort {
  readonly host: string;
  readonly port?: string;
}

/** server.address and server.port: from Forwarded, X-Forwarded-Host or Host, as semantic conventions 1.27 say. */
function serverAddress(request: IncomingMessage, scheme: string): HostAndPort | null {
  const { headers } = request;
  if (headers.forwarded) {
    for (const entry of forwardedEntries(headers.forwarded)) if (entry.host) return hostAndPort(entry.host, entry.proto);
  }
  const forwardedHost = headers['x-forwarded-host'] as string | string[] | undefined;
  const forwardedProto = headers['x-forwarded-proto'] as string | string[] | undefined;
  const proto = Array.isArray(forwardedProto) ? forwardedProto[0] : forwardedProto;
  if (typeof forwardedHost === 'string') return hostAndPort(forwardedHost, proto);
  if (Array.isArray(forwardedHost) && typeof forwardedHost[0] === 'string' && forwardedHost[0].length > 0) {
    return hostAndPort(forwardedHost[0], proto);
  }
  const { host } = headers;
  return typeof host === 'string' && host.length > 0 ? hostAndPort(host, scheme) : null;
}

function hostAndPort(header: string, proto: string | undefined): HostAndPort {
  const parts = header.split(':');
  const defaultPort = proto === 'http' ? '80' : proto === 'https' ? '443' : undefined;
  if (parts.length === 1) return defaultPort ? { host: parts[0] as string, port: defaultPort } : { host: parts[0] as string };
  if (parts.length === 2) return { host: parts[0] as string, port: parts[1] };
  // IPv6: [x:…:x] or [x:…:x]:port.
  if (parts[0]?.startsWith('[')) {
    if (parts.at(-1)?.endsWith(']')) {
      if (defaultPort) return { host: header, port: defaultPort };
    } else if (parts.at(-2)?.endsWith(']')) {
      return { host: parts.slice(0, -1).join(':'), port: parts.at(-1) };
    }
  }
  return { host: header };
}

/** client.address: the first proxy's client, else the peer. */
function clientAddress(request: IncomingMessage): string | null {
  const { headers } = request;
  if (headers.forwarded) {
    for (const entry of forwardedEntries(headers.forwarded)) if (entry.for) return withoutPort(entry.for);
  }
  const forwardedFor = headers['x-forwarded-for'];
  if (forwardedFor) {
    const first = Array.isArray(forwardedFor) ? forwardedFor[0] : forwardedFor;
    if (typeof first === 'string') return withoutPort((first.split(',')[0] as string).trim());
  }
  return request.socket.remoteAddress || null;
}

function forwardedEntries(header: string): ReturnType<typeof forwardedParse> {
  try {
    return forwardedParse(header);
  } catch {
    return [];
  }
}

function withoutPort(address: string): string {
  try {
    const { hostname } = new URL(`http://${address}`);
    return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  } catch {
    return address;
  }
}
