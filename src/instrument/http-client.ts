// Client spans and the client duration histogram for requests made with node:http and node:https
// (axios, got, the AWS SDK and most other clients), with the spans and metrics of
// @opentelemetry/instrumentation-http, for less per request. `request` and `get` of both modules
// are wrapped, as upstream wraps them: Node announces a request on a diagnostics channel only once
// its headers are written, too late for traceparent. A request whose span does not record costs a
// sampling decision, its traceparent header, a copy of its options to carry it, and the host and port
// for the histogram, read without parsing its URL but for a string's origin, parsed once per
// origin; its URL and its span's attributes are built only for a span that records. Its events are
// seen through its prototype's `emit` (message-events.ts), not through listeners of its own. A throw
// of ours is caught before it reaches the app.
import type { IncomingMessage } from 'node:http';
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { instrumentationFailed } from '../log.js';
import { type DurationHistogram, markWrapped, normalizedMethod } from './http-conventions.js';
import { messageEvents, type Watch } from './message-events.js';
import { redactedQuery } from './url-redaction.js';

type Api = typeof import('@opentelemetry/api');
type InstrumentationModule = typeof import('@opentelemetry/instrumentation');
type Component = 'http' | 'https';

export interface HttpClientOptions {
  readonly api: Api;
  readonly instrumentation: InstrumentationModule;
  readonly scope: string;
  readonly version: string | undefined;
  /** Where calls' durations go; none with metrics off. */
  readonly histogram: DurationHistogram | undefined;
}

/** As shimmer marks a function it wrapped. */
type Request = ((this: unknown, ...args: unknown[]) => ClientRequestLike) & { __wrapped?: true; __unwrap?: () => void };

interface ClientRequestLike {
  readonly aborted?: boolean;
  end(): unknown;
}

interface HttpModule {
  request: Request;
  get: Request;
}

/** The request options upstream's instrumentation reads, as it normalises them (its getRequestInfo). */
interface RequestOptions {
  protocol?: string;
  hostname?: string;
  host?: string;
  port?: string | number;
  path?: string | null;
  method?: string;
  auth?: string;
  headers?: unknown;
}

export function httpClientInstrumentation({ api, instrumentation, scope, version, histogram }: HttpClientOptions): Instrumentation {
  class LeanHttpClientInstrumentation extends instrumentation.InstrumentationBase {
    constructor() {
      super(scope, version ?? '0.0.0', {});
    }

    init() {
      const wrapRequest = requestWrapper(api, messageEvents(api), () => this.tracer, histogram);
      return (['http', 'https'] as const).map(
        (component) =>
          new instrumentation.InstrumentationNodeModuleDefinition(
            component,
            ['*'],
            (exports) => patch(exports as HttpModule, (original) => wrapRequest(component, original)),
            (exports) => unpatch(exports as HttpModule | undefined),
          ),
      );
    }
  }
  return new LeanHttpClientInstrumentation();
}

/**
 * Wraps `request`, and `get` as upstream does: a `request` that ends at once (Node's own `get` calls
 * the module's `request` from the inside, which no wrapper reaches). An `import` of node:http gets
 * the module's namespace, whose default export is the module. The wrappers are marked as shimmer's
 * (markWrapped).
 */
function patch(exports: HttpModule, wrap: (original: Request) => Request): HttpModule {
  const esm = (exports as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === 'Module';
  const modules = esm ? [exports, (exports as unknown as { default: HttpModule }).default] : [exports];
  if (modules.some((module) => module.request.__wrapped)) return exports;
  const request = wrap(exports.request);
  const get: Request = function (this: unknown, ...args) {
    const sent = request.apply(this, args);
    sent.end();
    return sent;
  };
  for (const [name, wrapper] of [
    ['request', request],
    ['get', get],
  ] as const) {
    const original = exports[name];
    markWrapped(wrapper, original, () => {
      for (const module of modules) if (module[name] === wrapper) module[name] = original;
    });
    for (const module of modules) module[name] = wrapper;
  }
  return exports;
}

function unpatch(exports: HttpModule | undefined): void {
  exports?.request.__unwrap?.();
  exports?.get.__unwrap?.();
}

function requestWrapper(
  api: Api,
  watch: (message: object, watch: Watch) => void,
  tracer: () => Tracer,
  histogram: DurationHistogram | undefined,
) {
  const { context, propagation, trace, SpanKind, SpanStatusCode } = api;
  const origins = new Map<string, RequestOptions | null>();

  const close = (call: Call) => {
    call.finished = true;
    call.span.end();
    histogram?.record((performance.now() - call.started) / 1000, call.measured);
  };
  const fail = (call: Call, error: unknown) => {
    const { name, message } = (error ?? {}) as Partial<Error>;
    call.span.setAttribute('error.type', name as string);
    call.span.setStatus({ code: SpanStatusCode.ERROR, message });
    call.span.recordException(error as Error);
    call.measured['error.type'] = name;
    close(call);
  };

  /** A call in flight: its span, the histogram's attributes as they become known, and its request's events. */
  class Call implements Watch {
    finished = false;
    constructor(
      readonly span: Span,
      /** The caller's, where the request's and the response's listeners run. */
      readonly context: Context,
      readonly started: number,
      readonly measured: Attributes,
    ) {}

    /** Its request, once Node has made it; the events are its. */
    request: ClientRequestLike | undefined;

    seen(event: string | symbol, first: unknown) {
      if (this.finished) return;
      if (event === 'response') this.answered(first as IncomingMessage);
      else if (event === 'error') fail(this, first);
      else if (event === 'close' && !this.request?.aborted) close(this);
    }

    private answered(response: IncomingMessage) {
      const { statusCode: status, socket, httpVersion } = response;
      if (this.span.isRecording()) {
        const attributes: Attributes = {};
        if (status != null) attributes['http.response.status_code'] = status;
        if (socket) {
          attributes['network.peer.address'] = socket.remoteAddress;
          attributes['network.peer.port'] = socket.remotePort;
          attributes['network.protocol.version'] = httpVersion;
        }
        this.span.setAttributes(attributes);
      }
      if (socket && httpVersion) this.measured['network.protocol.version'] = httpVersion;
      if (status) {
        this.measured['http.response.status_code'] = status;
        if (status >= 400 && status < 600) this.measured['error.type'] = String(status);
      }
      watch(response, new Answer(this, response));
    }
  }

  /** The response of a call: its end or its error ends the call. */
  class Answer implements Watch {
    readonly context: Context;
    constructor(
      private readonly call: Call,
      private readonly response: IncomingMessage,
    ) {
      this.context = call.context;
    }

    seen(event: string | symbol, first: unknown) {
      const call = this.call;
      const response = this.response;
      if (call.finished) return;
      if (event === 'end') {
        const status = response.statusCode;
        const failed = (response.aborted && !response.complete) || !(status && status >= 100 && status < 400);
        call.span.setStatus({ code: failed ? SpanStatusCode.ERROR : SpanStatusCode.UNSET });
        close(call);
      } else if (event === 'error') {
        fail(call, first);
      }
    }
  }

  /**
   * What a call needs before it is made; undefined for arguments that are neither a URL nor options,
   * which upstream leaves alone too (Node makes them a request to localhost).
   */
  const prepare = (component: Component, args: unknown[]) => {
    const [input] = args;
    if (!input || (typeof input !== 'string' && (typeof input !== 'object' || Array.isArray(input)))) return undefined;
    const withUrl = typeof input === 'string' || isUrl(input);
    // A URL's own options come second, before the callback; `undefined` there keeps the place.
    const slot = withUrl && args.length > 1 && (args[1] === undefined || typeof args[1] === 'object');
    const extra = slot ? ((args[1] ?? undefined) as RequestOptions | null | undefined) : undefined;
    // A string's origin, parsed once: what a span that does not record needs of it.
    const cached = typeof input === 'string' ? originOptions(input, extra, origins) : undefined;
    const options = cached ?? requestInfo(component, input, extra);
    const method = options.method ? String(options.method).toUpperCase() : 'GET';
    const normalized = normalizedMethod(String(options.method ?? 'GET'));
    const { hostname, port } = hostnameAndPort(options);

    const parent = context.active();
    const span = tracer().startSpan(method, { kind: SpanKind.CLIENT }, parent);
    if (span.isRecording()) {
      try {
        span.setAttributes(spanAttributes(component, cached ? requestInfo(component, input, extra) : options, normalized, hostname, port));
      } catch (error) {
        // Options upstream would throw on (a path that is no string): the call is traced without them.
        instrumentationFailed('http', error);
      }
    }
    const measured: Attributes = { 'http.request.method': normalized, 'server.address': hostname, 'server.port': Number(port) };
    const call = new Call(span, parent, performance.now(), measured);
    const requestContext = trace.setSpan(parent, span);
    const injected: Record<string, string> = {};
    propagation.inject(requestContext, injected);
    return { call, requestContext, sent: withHeaders(args, withUrl, slot, injected) };
  };

  return (component: Component, original: Request): Request =>
    function outgoingRequest(this: unknown, ...args: unknown[]) {
      let prepared: ReturnType<typeof prepare>;
      try {
        prepared = prepare(component, args);
      } catch (error) {
        instrumentationFailed('http', error);
      }
      if (!prepared) return original.apply(this, args);
      const { call, requestContext, sent } = prepared;
      let request: ClientRequestLike;
      try {
        request = context.with(requestContext, original, this, ...sent);
      } catch (error) {
        try {
          fail(call, error);
        } catch (ours) {
          instrumentationFailed('http', ours);
        }
        throw error;
      }
      call.request = request;
      watch(request, call);
      return request;
    };
}

/** The arguments with the propagation headers added to a copy of the options, or to new options after a URL. */
function withHeaders(args: unknown[], withUrl: boolean, slot: boolean, injected: Record<string, string>): unknown[] {
  if (Object.keys(injected).length === 0) return args;
  if (!withUrl) {
    const options = args[0] as RequestOptions;
    return [{ ...options, headers: mergedHeaders(options.headers, injected) }, ...args.slice(1)];
  }
  if (!slot) return [args[0], { headers: injected }, ...args.slice(1)];
  const extra = args[1] as RequestOptions | null | undefined;
  return [args[0], { ...extra, headers: mergedHeaders(extra?.headers, injected) }, ...args.slice(2)];
}

/**
 * Headers as the app wrote them, with the propagation headers in place of any it had (a proxy
 * forwarding its request's raw headers has one): a list of names and values stays one.
 */
function mergedHeaders(headers: unknown, injected: Record<string, string>): unknown {
  if (!Array.isArray(headers)) return { ...(headers as object), ...injected };
  const ours = (name: unknown) => typeof name === 'string' && Object.hasOwn(injected, name.toLowerCase());
  const entries = Object.entries(injected);
  if (Array.isArray(headers[0])) return [...headers.filter((entry) => !ours((entry as unknown[])[0])), ...entries];
  const kept: unknown[] = [];
  // A name without a value stays one: Node then rejects the list as it would bare.
  for (let i = 0; i < headers.length; i += 2) if (!ours(headers[i])) kept.push(...headers.slice(i, i + 2));
  return [...kept, ...entries.flat()];
}

/** What Node takes for a URL: its own, or another implementation's (whatwg-url's, jsdom's). */
function isUrl(value: object): value is URL {
  if (value instanceof URL) return true;
  const { href, protocol, auth, path } = value as Partial<URL> & RequestOptions;
  return Boolean(href && protocol) && auth === undefined && path === undefined;
}

/**
 * The protocol, host, port, method and headers upstream would read of a URL string, from its origin,
 * parsed once per origin; undefined when the whole URL has to be parsed, as upstream parses it.
 */
function originOptions(
  input: string,
  extra: RequestOptions | null | undefined,
  origins: Map<string, RequestOptions | null>,
): RequestOptions | undefined {
  const origin = ORIGIN.exec(input)?.[0];
  if (origin === undefined) return undefined;
  let options = origins.get(origin);
  if (options === undefined) {
    // A bound, not a cache policy: a process calls a handful of origins, but each one is a key.
    if (origins.size >= 256) origins.clear();
    options = parsedOrigin(origin);
    origins.set(origin, options);
  }
  return options ? (extra === undefined ? options : Object.assign({}, options, extra)) : undefined;
}

/** A URL's scheme and authority: for http and https, the authority ends at `/`, `?`, `#` or `\`. */
const ORIGIN = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#\\]*/;

function parsedOrigin(origin: string): RequestOptions | null {
  try {
    const { protocol, hostname, port, host, username, password } = new URL(origin);
    // Credentials in the URL: its whole parse gives url.full's REDACTED:REDACTED, which this one would not.
    if (username || password) return null;
    const options: RequestOptions = { protocol, hostname: unbracketed(hostname), host };
    if (port !== '') options.port = Number(port);
    return options;
  } catch {
    return null;
  }
}

/** A URL's options, read from its fields as Node's urlToHttpOptions reads them, whoever implemented it. */
function urlOptions(url: URL, extra: RequestOptions | null | undefined): RequestOptions {
  const options: RequestOptions = {
    protocol: url.protocol,
    hostname: typeof url.hostname === 'string' ? unbracketed(url.hostname) : url.hostname,
    path: `${url.pathname || ''}${url.search || ''}`,
  };
  if (url.port !== '') options.port = Number(url.port);
  if (url.username || url.password) options.auth = `${url.username}:${url.password}`;
  return extra === undefined ? options : Object.assign(options, extra);
}

/** Options as upstream reads them: an https request's protocol and port default to https's, as Node's do. */
function objectOptions(component: Component, options: RequestOptions): RequestOptions {
  const source = component === 'https' ? { ...options, protocol: options.protocol || 'https:', port: options.port || 443 } : options;
  return Object.assign({ protocol: source.host ? 'http:' : undefined }, source);
}

const unbracketed = (hostname: string) => (hostname[0] === '[' ? hostname.slice(1, -1) : hostname);

/**
 * The options upstream's getRequestInfo reads attributes from; another implementation's URL is read
 * as Node reads it, from its fields (upstream's takes it for options, and the request for one to
 * localhost).
 */
function requestInfo(component: Component, input: object | string, extra: RequestOptions | null | undefined): RequestOptions {
  if (typeof input !== 'string') return isUrl(input) ? urlOptions(input, extra) : objectOptions(component, input as RequestOptions);
  let options: RequestOptions;
  try {
    const { hostname, pathname, port, username, password, search, protocol, host } = new URL(input);
    options = { protocol, hostname: unbracketed(hostname), path: `${pathname || ''}${search || ''}`, host };
    if (port !== '') options.port = Number(port);
    if (username || password) options.auth = `${decodeURIComponent(username)}:${decodeURIComponent(password)}`;
  } catch {
    // Node throws ERR_INVALID_URL for it: the span records that.
    options = { path: input };
  }
  return extra === undefined ? options : Object.assign(options, extra);
}

/** server.address and server.port, as upstream's extractHostnameAndPort reads them. */
function hostnameAndPort({ hostname, host, port, protocol }: RequestOptions): { hostname: string; port: string | number } {
  if (hostname && port) return { hostname, port };
  const matches = typeof host === 'string' ? /^([^:/ ]+)(:\d{1,5})?/.exec(host) : null;
  return {
    hostname: hostname || (matches ? (matches[1] as string) : 'localhost'),
    port: port || (matches?.[2] ? matches[2].slice(1) : protocol === 'https:' ? '443' : '80'),
  };
}

/** The span's attributes at its start, as upstream's getOutgoingRequestAttributes sets them. */
function spanAttributes(
  component: Component,
  options: RequestOptions,
  normalized: string,
  hostname: string,
  port: string | number,
): Attributes {
  const headers = (options.headers ?? {}) as Record<string, unknown>;
  const attributes: Attributes = {
    'http.request.method': normalized,
    'server.address': hostname,
    'server.port': Number(port),
    'url.full': absoluteUrl(options, headers, `${component}:`),
    'user_agent.original': headers['user-agent'] as string | undefined,
  };
  // As the app wrote it: `get` is GET's original too.
  const method = options.method ?? 'GET';
  if (method !== normalized) attributes['http.request.method_original'] = method;
  return attributes;
}

/** url.full as upstream's getAbsoluteUrl writes it: credentials and signing parameters REDACTED. */
function absoluteUrl(options: RequestOptions, headers: Record<string, unknown>, fallbackProtocol: string): string {
  const protocol = options.protocol || fallbackProtocol;
  const port = String(options.port || '');
  let path = options.path || '/';
  let host = options.host || options.hostname || (headers.host as string | undefined) || 'localhost';
  if (!host.includes(':') && port && port !== '80' && port !== '443') host += `:${port}`;
  if (path.includes('?')) {
    try {
      const url = new URL(path, 'http://localhost');
      path = `${url.pathname}?${redactedQuery(url.searchParams)}`;
    } catch {
      // Not a path a URL parser takes: written as it is.
    }
  }
  return `${protocol}//${options.auth ? 'REDACTED:REDACTED@' : ''}${host}${path}`;
}
