// Express's route for the server span and the duration histogram, and a span per layer, as
// @opentelemetry/instrumentation-express makes them, for less per request. Layers are wrapped as
// they are declared (router.use, router.route), which is where their path is known; the paths of the
// layers a request passes through are kept beside the request, not on it (a property added to a
// request while Express runs slows Express's own code down: 3 % fewer requests a second in
// alternated rounds). A request whose server span does not record gets no spans here, and its
// route only when the histogram needs it.
import type { Context, Span } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { ExpressLayer } from '../config/types.js';

type Api = typeof import('@opentelemetry/api');
type Core = typeof import('@opentelemetry/core');
type InstrumentationModule = typeof import('@opentelemetry/instrumentation');

export interface ExpressOptions {
  readonly api: Api;
  readonly core: Core;
  readonly instrumentation: InstrumentationModule;
  readonly scope: string;
  readonly version: string | undefined;
  /** The layer types that get a span (OTEL_NODE_EXPRESS_LAYERS). */
  readonly layers: readonly ExpressLayer[];
  /** Whether the route of an unsampled request is wanted: the duration histogram's `http.route`. */
  readonly routeAlways: boolean;
}

type Handle = ((this: unknown, ...args: unknown[]) => unknown) & Record<string, unknown>;

interface Layer {
  name?: string;
  path?: string;
  handle: Handle;
  [WRAPPED]?: true;
}

interface Request {
  readonly originalUrl?: string;
  readonly route?: unknown;
  readonly res?: { removeListener(event: 'close', listener: () => void): unknown };
}

interface Response {
  once(event: 'close', listener: () => void): unknown;
}

type RouterLike = { stack?: Layer[] } & Record<string, unknown>;

const WRAPPED = Symbol('@rustok/otel.express');

export function expressInstrumentation(options: ExpressOptions): Instrumentation {
  const { instrumentation, scope, version } = options;
  class LeanExpressInstrumentation extends instrumentation.InstrumentationBase {
    constructor() {
      super(scope, version ?? '0.0.0', {});
    }

    init() {
      return new instrumentation.InstrumentationNodeModuleDefinition('express', ['>=4.0.0 <6'], (express) => {
        patchExpress(
          express as ExpressModule,
          layerWrapper(options, () => this.tracer),
        );
        return express;
      });
    }
  }
  return new LeanExpressInstrumentation();
}

interface ExpressModule {
  Router: (RouterLike & { prototype?: RouterLike }) | undefined;
}

type Wrap = (layer: Layer, path: string | undefined) => void;

/** Every layer is declared through a router's `route` or `use`: an app's `use`, `get` and `route` call them. */
function patchExpress(express: ExpressModule, wrap: Wrap): void {
  // Express 5's Router is the router package's class; Express 4's Router holds the methods itself.
  const router = typeof express.Router?.prototype?.route === 'function' ? express.Router.prototype : express.Router;
  if (!router) return;
  wrapDeclaration(router, 'route', wrap);
  wrapDeclaration(router, 'use', wrap);
}

/** After `method` adds a layer to the router's stack, wraps the layer with the path it was declared with. */
function wrapDeclaration(router: RouterLike, method: 'route' | 'use', wrap: Wrap) {
  const original = router[method];
  if (typeof original !== 'function' || (original as { [WRAPPED]?: true })[WRAPPED]) return;
  const declare = function (this: RouterLike, ...args: unknown[]) {
    const result = original.apply(this, args);
    const layer = this.stack?.at(-1);
    if (layer) wrap(layer, declaredPath(args[0]));
    return result;
  } as typeof original & { [WRAPPED]?: true };
  declare[WRAPPED] = true;
  router[method] = declare;
}

/** The path a layer was declared with, as its first argument says: text, a pattern, or a list of them. */
export function declaredPath(first: unknown): string | undefined {
  if (Array.isArray(first)) return first.map((item) => pathText(item) ?? '').join(',');
  return pathText(first);
}

function pathText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof RegExp || typeof value === 'number') return value.toString();
  return undefined;
}

type LayerType = 'router' | 'request_handler' | 'middleware';

function layerType(layer: Layer): LayerType {
  if (layer.name === 'router') return 'router';
  return layer.name === 'bound dispatch' || layer.name === 'handle' ? 'request_handler' : 'middleware';
}

/** The span name and the express.* attributes of a layer, as upstream names them. */
function describeLayer(type: LayerType, layer: Layer, route: string, declared: string | undefined) {
  if (type === 'router') {
    const path = routerPath('', layer) || declared || route || '/';
    return { name: `router - ${path}`, expressName: path };
  }
  if (type === 'request_handler') {
    return { name: `request handler${layer.path ? ` - ${route || declared}` : ''}`, expressName: (route || declared) ?? 'request handler' };
  }
  return { name: `middleware - ${layer.name}`, expressName: layer.name as string };
}

/** A mounted router's path: that of the first route in it, found through nested routers. */
function routerPath(prefix: string, layer: Layer): string {
  const first = (layer.handle?.stack as Layer[] | undefined)?.[0] as (Layer & { route?: { path?: string } }) | undefined;
  if (first?.route?.path) return `${prefix}${first.route.path}`;
  if (first?.handle?.stack) return routerPath(prefix, first);
  return prefix;
}

/** The stored paths as one route: mount points and wildcards that say nothing left out, slashes merged. */
export function constructedRoute(paths: readonly string[]): string {
  let joined = '';
  let only: string | undefined;
  let count = 0;
  for (const path of paths) {
    if (path === '/' || path === '/*' || /^\/\{[*][^}]*\}$/.test(path)) continue;
    joined += path;
    only = path;
    count++;
  }
  if (count === 1 && only === '*') return '*';
  return joined.includes('//') ? joined.replace(/\/{2,}/g, '/') : joined;
}

/** The route the request matched, when the stored paths make one (what upstream puts in http.route). */
export function matchedRoute(paths: readonly string[], originalUrl: string | undefined): string | undefined {
  if (paths.length === 0) return undefined;
  if (paths.every((path) => path === '/')) return originalUrl === '/' ? '/' : undefined;
  const route = constructedRoute(paths);
  if (route === '*') return route;
  if (route.includes('/') && (route.includes(',') || route.includes('\\') || route.includes('*') || route.includes('['))) return route;
  const normalized = route.startsWith('/') ? route : `/${route}`;
  const url = originalUrl ?? '';
  const matched = url === normalized || url.startsWith(normalized) || normalized.includes(':') || normalized.includes('*');
  return matched ? normalized : undefined;
}

function layerWrapper(
  { api, core, layers: spanned, routeAlways }: ExpressOptions,
  tracer: () => import('@opentelemetry/api').Tracer,
): Wrap {
  const { context, trace, SpanStatusCode, TraceFlags } = api;
  // By request, not by its trace context: a callback of a shared client runs in the context of the
  // request that opened it, and the paths of every later request would pile up there.
  const byRequest = new WeakMap<object, string[]>();
  const pathsOf = (request: object) => {
    const found = byRequest.get(request);
    if (found) return found;
    const paths: string[] = [];
    byRequest.set(request, paths);
    return paths;
  };

  return (layer, declared) => {
    if (layer[WRAPPED]) return;
    layer[WRAPPED] = true;
    const original = layer.handle;
    // An error handler's four parameters are how Express tells it apart; it gets no span, as upstream's.
    if (typeof original !== 'function' || original.length === 4) return;
    const type = layerType(layer);
    const hasSpan = spanned.includes(type);
    const handle = function (this: unknown, ...args: unknown[]) {
      const [request, response] = args as [Request, Response];
      const active = context.active();
      const parent = trace.getSpan(active);
      if (parent === undefined) return original.apply(this, args);
      // Sampled, not recording: a layer run from a callback of an earlier request's client has that
      // request's server span, ended, as its parent, and upstream's gives it a span all the same.
      const sampled = (parent.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
      if (!(routeAlways || sampled)) return original.apply(this, args);
      const rpc = core.getRPCMetadata(active);
      const paths = pathsOf(request);
      const stored = declared !== undefined;
      if (stored) paths.push(declared);
      const route = matchedRoute(paths, request.originalUrl);
      if (rpc?.type === core.RPCType.HTTP) rpc.route = route;
      if (!hasSpan) {
        // A router's path stays while the routes mounted in it run; others' go now, with no `next` to take them off.
        if (type !== 'router' && stored) paths.pop();
        return original.apply(this, args);
      }
      const span: Span | undefined = sampled ? startLayerSpan(type, layer, paths, declared, route) : undefined;
      // Without a span there is nothing to end: no listener on the response for it.
      let ended = span === undefined;
      const end = () => {
        if (ended) return;
        ended = true;
        span?.end();
      };
      // A router's span says only that it was passed through.
      if (type === 'router') end();
      const inLayer: Context = span && type !== 'router' ? trace.setSpan(active, span) : active;
      const nextAt = args.findIndex((arg) => typeof arg === 'function');
      if (nextAt >= 0) {
        const next = args[nextAt] as Handle;
        args[nextAt] = function (this: unknown, ...nextArgs: unknown[]) {
          const [passed] = nextArgs;
          // Express takes anything passed to next() but nothing, 'route' and 'router' for an error.
          const failed = passed !== undefined && passed !== null && passed !== 'route' && passed !== 'router';
          if (!ended && failed) recordError(span, passed);
          if (!ended) {
            ended = true;
            request.res?.removeListener('close', end);
            span?.end();
          }
          if (!(request.route && failed) && stored) paths.pop();
          if (!span) return next.apply(this, nextArgs);
          // The next layer runs beside this one, under the same parent: what the app put in the context stays.
          const now = context.active();
          return context.with(trace.setSpan(now, parent), () => next.apply(this, nextArgs));
        };
      }
      try {
        return inLayer === active ? original.apply(this, args) : context.with(inLayer, () => original.apply(this, args));
      } catch (error) {
        recordError(span, error);
        throw error;
      } finally {
        if (!ended) response.once('close', end);
      }
    } as Handle;
    // A layer's handle may carry state of its own (a router's stack): read and written through.
    for (const key in original) {
      Object.defineProperty(handle, key, {
        get: () => original[key],
        set: (value) => {
          original[key] = value;
        },
      });
    }
    // Defined, not assigned: a setter on Layer.prototype.handle (express-async-errors wraps what is
    // assigned) would wrap it a second time, and drop what it proxies.
    Object.defineProperty(layer, 'handle', { value: handle, writable: true, configurable: true, enumerable: true });

    function startLayerSpan(
      type: LayerType,
      layer: Layer,
      paths: readonly string[],
      declared: string | undefined,
      route: string | undefined,
    ): Span {
      const { name, expressName } = describeLayer(type, layer, constructedRoute(paths), declared);
      return tracer().startSpan(name, { attributes: { 'http.route': route, 'express.name': expressName, 'express.type': type } });
    }
  };

  function recordError(span: Span | undefined, error: unknown): void {
    if (!span) return;
    try {
      const isError = error instanceof Error;
      const message = isError ? error.message : String(error);
      span.recordException(isError ? error : message);
      span.setStatus({ code: SpanStatusCode.ERROR, message });
    } catch {
      // A value with no text (an object without a prototype): the app's error stays the one Express handles.
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
}
