// Server spans and the server duration histogram for node:http and node:https, with the spans and
// metrics of @opentelemetry/instrumentation-http, for less per request. http.Server's `emit` is
// wrapped once, which also covers requests no connection brought (serverless-http emits them
// itself); an https.Server is announced on the 'http.server.request.start' diagnostics channel just
// before its first request, and there gets its own `emit`, so that node:https is loaded only by an
// app that uses it. A request that is not sampled costs a propagation extract, a sampling decision
// and the context it runs in; its attributes, URL parsing included, are built only for a span that
// records, and its histogram attributes (method, scheme, route, status) without either.
import { subscribe } from 'node:diagnostics_channel';
import { IncomingMessage, Server, type ServerResponse } from 'node:http';
import type { Attributes, Context, Meter, Span, Tracer } from '@opentelemetry/api';
import forwardedParse from 'forwarded-parse';
import { durationHistogram, markWrapped, normalizedMethod } from './http-conventions.js';
import { messageEvents, type Watch } from './message-events.js';
import { redactedQuery } from './url-redaction.js';

type Api = typeof import('@opentelemetry/api');
type Core = typeof import('@opentelemetry/core');

export interface HttpServerOptions {
  readonly api: Api;
  readonly core: Core;
  readonly tracer: Tracer;
  /** Where the duration histogram goes; without it, none is recorded. */
  readonly meter: Meter | undefined;
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

function requestHandler({ api, core, tracer, meter, ignore }: HttpServerOptions) {
  const { context, propagation, trace, ROOT_CONTEXT, SpanKind, SpanStatusCode } = api;
  const histogram = meter && durationHistogram(meter, api, 'server');
  const watch = messageEvents(api);

  /**
   * A request being served: its span, its histogram point, and what its response emits, seen before
   * the response's listeners see it (an end on 'close', an error on 'error', as an `errorMonitor`
   * would), through the response's watch: no listeners of ours on each response.
   */
  class Served implements Watch {
    readonly #rpc: { type: typeof core.RPCType.HTTP; span: Span; route?: string };
    readonly #started = core.hrTime();
    #duration = 0;
    #ended = false;
    #measured = false;
    /** The name of what the app's 'request' listener threw, once it has thrown. */
    #thrown: string | undefined;
    /** The watch of another server's span, when one server's handler emits the request to another. */
    #outer: Watch | undefined;

    constructor(
      readonly context: Context,
      readonly span: Span,
      rpc: { type: typeof core.RPCType.HTTP; span: Span },
      readonly request: IncomingMessage,
      readonly response: ServerResponse,
      readonly scheme: 'http' | 'https',
    ) {
      this.#rpc = rpc;
    }

    /** Watches the response from now on, after any other server that serves it too. */
    watch() {
      this.#outer = watch(this.response, this);
    }

    seen(event: string | symbol, first: unknown) {
      this.#outer?.seen?.(event, first);
      if (event === 'close') {
        if (this.#ended && this.#thrown === undefined) return;
        if (!this.#ended) this.#took();
        this.#end();
        this.#measure(true);
      } else if (event === 'error') {
        // After 'error' a response emits only 'close', which then changes nothing.
        if (this.#ended) return;
        this.#took();
        this.#end({ error: first });
        this.#measure(false, describeThrown(first).name ?? '_OTHER');
      }
    }

    /** The app's 'request' listener threw: recorded now, since emitted from a promise it would reach no exception monitor before the process ends. */
    threw(error: unknown) {
      this.#took();
      this.#end({ error });
      // Measured with the answer the app still gives; a crash first loses it, as it loses the interval's metrics.
      this.#thrown = describeThrown(error).name ?? '_OTHER';
    }

    #took() {
      this.#duration = core.hrTimeToMilliseconds(core.hrTimeDuration(this.#started, core.hrTime())) / 1000;
    }

    /** `thrown` when the response emitted an error or the app's 'request' listener threw. */
    #end(thrown?: { error: unknown }) {
      if (this.#ended) return;
      this.#ended = true;
      const { span, request, response } = this;
      const { route } = this.#rpc;
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
    }

    /**
     * The histogram's point: the attributes known when the request ended, and, after a throw in its
     * handler, those of the answer the app still gave (a 500 its error handler sent counts as one,
     * which is what upstream's point ends up saying too: it changes the attributes it recorded).
     */
    #measure(answered: boolean, errorName = this.#thrown) {
      if (this.#measured || !histogram) return;
      this.#measured = true;
      const { request, response } = this;
      const status = response.statusCode;
      const { route } = this.#rpc;
      const attributes: Attributes = { 'http.request.method': normalizedMethod(request.method), 'url.scheme': this.scheme };
      if (request.httpVersion) attributes['network.protocol.version'] = request.httpVersion;
      if (errorName !== undefined) attributes['error.type'] = errorName;
      if (answered) {
        if (route !== undefined) attributes['http.route'] = route;
        if (status) {
          attributes['http.response.status_code'] = status;
          if (status >= 500 && status < 600) attributes['error.type'] = String(status);
        }
      }
      histogram.record(this.#duration, attributes);
    }
  }

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
        watch(request, { context: ctx });
        // Emitted by another server's handler, the response still tells that server's span it ended.
        const outer = watch(response, { context: ctx });
        if (outer?.seen) watch(response, { context: ctx, seen: outer.seen.bind(outer) });
        return emit.apply(server, ['request', ...args]);
      });
    }
    const scheme = (request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(request.method || 'GET', { kind: SpanKind.SERVER }, parent);
    if (span.isRecording()) span.setAttributes(requestAttributes(request, scheme));
    const rpc: { type: typeof core.RPCType.HTTP; span: Span } = { type: core.RPCType.HTTP, span };
    const ctx = core.setRPCMetadata(trace.setSpan(parent, span), rpc);
    const served = new Served(ctx, span, rpc, request, response, scheme);
    return context.with(ctx, () => {
      watch(request, { context: ctx });
      served.watch();
      try {
        return emit.apply(server, ['request', ...args]);
      } catch (error) {
        served.threw(error);
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
