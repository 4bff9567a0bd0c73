// Client spans and the client duration histogram for fetch and undici, with the spans and metrics of
// @opentelemetry/instrumentation-undici, for less per request. Node's fetch and an undici the app
// installs (5.x on) announce each request's life on undici's diagnostics channels, so nothing is
// patched. A request whose span does not record costs a sampling decision, its traceparent header
// and the histogram's attributes, which come from its origin, parsed once per origin (its whole URL
// only when its path could change the host: `//x`, `/\x`, a proxy's absolute URL); its span's
// attributes are built only for a span that records. A throw of ours on a channel would reach the
// app as an uncaught exception: each handler keeps its own.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Attributes, Span, TextMapSetter, Tracer } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { instrumentationFailed } from '../log.js';
import { type DurationHistogram, normalizedMethod } from './http-conventions.js';
import { redactSigningParameters } from './url-redaction.js';

type Api = typeof import('@opentelemetry/api');
type InstrumentationModule = typeof import('@opentelemetry/instrumentation');

export interface UndiciOptions {
  readonly api: Api;
  readonly instrumentation: InstrumentationModule;
  readonly scope: string;
  readonly version: string | undefined;
  /** Where calls' durations go; none with metrics off. */
  readonly histogram: DurationHistogram | undefined;
}

/** A request as undici's channels show it: its headers are text in undici 5, a list of names and values since 6. */
interface UndiciRequest {
  readonly origin: string | URL;
  readonly method: string;
  readonly path: string;
  headers: string | unknown[];
  addHeader?(name: string, value: string): unknown;
}

interface UndiciSocket {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly alpnProtocol?: string | false | null;
}

interface InFlight {
  readonly span: Span;
  readonly started: number;
  /** The histogram's attributes, completed as the request goes. */
  readonly measured: Attributes;
}

/** The scheme, host and port of a request, as upstream reads them from its URL. */
interface Target {
  readonly scheme: string;
  readonly address: string;
  readonly port: number | undefined;
  /** The request's whole URL, when it had to be parsed to know the rest. */
  readonly url?: URL;
}

export function undiciInstrumentation({ api, instrumentation, scope, version, histogram }: UndiciOptions): Instrumentation {
  let subscribed: [string, Handler][] | undefined;
  class LeanUndiciInstrumentation extends instrumentation.InstrumentationBase {
    constructor() {
      super(scope, version ?? '0.0.0', {});
    }

    init() {
      return undefined;
    }

    override enable() {
      super.enable();
      if (subscribed) return;
      subscribed = channelHandlers(api, () => this.tracer, histogram);
      for (const [channel, handler] of subscribed) subscribe(channel, handler);
    }

    override disable() {
      super.disable();
      for (const [channel, handler] of subscribed ?? []) unsubscribe(channel, handler);
      subscribed = undefined;
    }
  }
  return new LeanUndiciInstrumentation();
}

type Handler = (message: unknown) => void;

function channelHandlers(api: Api, tracer: () => Tracer, histogram: DurationHistogram | undefined): [string, Handler][] {
  const { context, propagation, trace, SpanKind, SpanStatusCode } = api;
  const inFlight = new WeakMap<UndiciRequest, InFlight>();
  const targets = new Map<string, Target | null>();

  const finish = (request: UndiciRequest, flight: InFlight) => {
    inFlight.delete(request);
    flight.span.end();
    histogram?.record((performance.now() - flight.started) / 1000, flight.measured);
  };

  const created: Handler = (message) => {
    const { request } = message as { request: UndiciRequest };
    if (request.method === 'CONNECT') return;
    const started = performance.now();
    const target = targetOf(request, targets);
    // Upstream leaves a request whose URL it cannot parse alone: untraced, and without a traceparent.
    if (!target) return;
    const method = normalizedMethod(request.method);
    const parent = context.active();
    const span = tracer().startSpan(method === '_OTHER' ? 'HTTP' : method, { kind: SpanKind.CLIENT }, parent);
    if (span.isRecording()) span.setAttributes(spanAttributes(request, method, target));
    propagation.inject(trace.setSpan(parent, span), request, headerSetter);
    const measured: Attributes = { 'http.request.method': method, 'url.scheme': target.scheme, 'server.address': target.address };
    if (target.port !== undefined) measured['server.port'] = target.port;
    inFlight.set(request, { span, started, measured });
  };

  const headersSent: Handler = (message) => {
    const { request, socket } = message as { request: UndiciRequest; socket: UndiciSocket };
    const flight = inFlight.get(request);
    if (!flight) return;
    // undici offers only HTTP/1.1 and h2 (with allowH2, or by default from undici 8 on): a connection that negotiated neither is HTTP/1.1.
    const protocolVersion = socket.alpnProtocol === 'h2' ? '2' : '1.1';
    flight.measured['network.protocol.version'] = protocolVersion;
    if (!flight.span.isRecording()) return;
    flight.span.setAttributes({
      'network.peer.address': socket.remoteAddress,
      'network.peer.port': socket.remotePort,
      'network.protocol.version': protocolVersion,
    });
  };

  const answered: Handler = (message) => {
    const { request, response } = message as { request: UndiciRequest; response: { statusCode: number } };
    const flight = inFlight.get(request);
    if (!flight) return;
    const status = response.statusCode;
    const failing = status >= 400;
    flight.measured['http.response.status_code'] = status;
    if (failing) flight.measured['error.type'] = String(status);
    if (!flight.span.isRecording()) return;
    flight.span.setAttributes(
      failing ? { 'http.response.status_code': status, 'error.type': String(status) } : { 'http.response.status_code': status },
    );
    flight.span.setStatus({ code: failing ? SpanStatusCode.ERROR : SpanStatusCode.UNSET });
  };

  const done: Handler = (message) => {
    const { request } = message as { request: UndiciRequest };
    const flight = inFlight.get(request);
    if (flight) finish(request, flight);
  };

  const failed: Handler = (message) => {
    const { request, error } = message as { request: UndiciRequest; error: Error & { code?: unknown } };
    const flight = inFlight.get(request);
    if (!flight) return;
    try {
      // An AbortError (an abort without a reason of the app's own) is no error, as the semantic conventions say and upstream does.
      if (isAbort(error)) return;
      // A code may be a number (a DOMException's legacy one: 23 for a timeout), as upstream records it; anything else as text.
      const code = error?.code || error?.name || 'Error';
      const type = typeof code === 'number' ? code : String(code);
      flight.measured['error.type'] = type;
      flight.span.setAttribute('error.type', type);
      flight.span.recordException(error as Error);
      flight.span.setStatus({ code: SpanStatusCode.ERROR, message: error?.message });
    } finally {
      // Ended whatever reading the error cost: a span left open is never exported.
      finish(request, flight);
    }
  };

  const handlers: [string, Handler][] = [
    ['undici:request:create', created],
    ['undici:client:sendHeaders', headersSent],
    ['undici:request:headers', answered],
    ['undici:request:trailers', done],
    ['undici:request:error', failed],
  ];
  return handlers.map(([channel, handler]) => [
    channel,
    (message) => {
      try {
        handler(message);
      } catch (error) {
        instrumentationFailed('fetch', error);
      }
    },
  ]);
}

/** traceparent, tracestate and baggage, added to the request as upstream adds them to each undici version's. */
const headerSetter: TextMapSetter<UndiciRequest> = {
  set(request, name, value) {
    if (typeof request.addHeader === 'function') request.addHeader(name, value);
    else if (typeof request.headers === 'string') request.headers += `${name}: ${value}\r\n`;
    // undici 6.11.0 briefly had no addHeader.
    else if (Array.isArray(request.headers)) request.headers.push(name, value);
  },
};

function isAbort(error: { name?: unknown; code?: unknown } | undefined): boolean {
  return error?.name === 'AbortError' || (error instanceof DOMException && error.code === DOMException.ABORT_ERR);
}

/** A path that starts with one `/` keeps the origin's scheme, host and port, which are then read from the origin alone. */
function targetOf(request: UndiciRequest, targets: Map<string, Target | null>): Target | undefined {
  const { path, origin } = request;
  if (path.charCodeAt(0) === 0x2f && path[1] !== '/' && path[1] !== '\\') {
    const key = String(origin);
    let target = targets.get(key);
    if (target === undefined) {
      // A bound, not a cache policy: a process talks to a handful of origins, but each one is a key.
      if (targets.size >= 256) targets.clear();
      const url = parsed('/', key);
      target = url ? targetFrom(url) : null;
      targets.set(key, target);
    }
    return target ?? undefined;
  }
  const url = parsed(path, origin);
  return url && { ...targetFrom(url), url };
}

function targetFrom(url: URL): Target {
  const scheme = url.protocol.replace(':', '');
  const port = url.port || (scheme === 'https' ? '443' : scheme === 'http' ? '80' : '');
  return { scheme, address: url.hostname, port: port ? Number(port) : undefined };
}

function parsed(path: string, origin: string | URL): URL | undefined {
  try {
    return new URL(path, origin);
  } catch {
    return undefined;
  }
}

/**
 * The span's attributes, in the order upstream sets them (under a lowered attribute count limit, the
 * first ones are kept), with the signing parameters of a presigned URL and the credentials of an
 * origin redacted (upstream records the credentials).
 */
function spanAttributes(request: UndiciRequest, method: string, target: Target): Attributes {
  // Parsed from a path that starts with one slash, on an origin that was: it cannot fail.
  const url = target.url ?? (parsed(request.path, request.origin) as URL);
  if (url.username || url.password) {
    url.username = 'REDACTED';
    url.password = 'REDACTED';
  }
  const attributes: Attributes = {
    'http.request.method': method,
    'http.request.method_original': request.method,
    'url.full': url.href,
    'url.path': url.pathname,
    'url.query': url.search,
    'url.scheme': target.scheme,
    'server.address': target.address,
  };
  if (target.port !== undefined) attributes['server.port'] = target.port;
  const agent = headerValue(request.headers, 'user-agent');
  // Like curl, the last of several.
  if (agent) attributes['user_agent.original'] = (Array.isArray(agent) ? agent.at(-1) : agent) as string;
  if (request.path.includes('?') && redactSigningParameters(url.searchParams)) {
    attributes['url.full'] = url.href;
    attributes['url.query'] = url.search;
  }
  return attributes;
}

/** A header's value as upstream reads it: the last one sent under its name, or all of them when it was sent more than once as text (undici 5). */
function headerValue(headers: string | unknown[], name: string): unknown {
  let value: unknown;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const key = headers[i];
      if (typeof key === 'string' && key.length === name.length && key.toLowerCase() === name) value = headers[i + 1];
    }
  } else if (typeof headers === 'string') {
    const values: string[] = [];
    for (const line of headers.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon !== -1 && line.slice(0, colon).toLowerCase() === name) values.push(line.slice(colon + 1).trim());
    }
    value = values.length > 1 ? values : values[0];
  }
  return value;
}
