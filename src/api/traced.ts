// Manual spans for code no instrumentation sees (the service layer): cheap no-ops while tracing is off.
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  type Span,
  type SpanOptions,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

const tracer = () => trace.getTracer('@rustok/otel');

/**
 * Runs `fn` inside a span named `name` and returns what it returns. A thrown error or a rejected
 * promise is recorded on the span and passed on unchanged; the span ends exactly once.
 *
 * A native promise (what every async function returns) ends the span when it settles. Any other
 * thenable is returned untouched and the span ends when `fn` returns: calling its `then` would run
 * a query builder's query. Wrap such work in an async function to time it.
 */
export function traced<T>(name: string, fn: (span: Span) => T, attributes?: Attributes): T {
  return inSpan(name, { attributes }, context.active(), fn);
}

/** Adds attributes to the span that is active here, if any. */
export function setAttributes(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

// The key @opentelemetry/core's suppressTracing sets (createContextKey is Symbol.for), which every
// instrumentation and the SDK's sampler honour; importing core here would cost the API its start-up.
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/**
 * Runs `fn` with tracing suppressed: no span is recorded for anything it does, however deep. For
 * work that would flood the traces with nothing to see, such as a poller's query every 100 ms.
 */
export function untraced<T>(fn: () => T): T {
  return context.with(context.active().setValue(SUPPRESS_TRACING, true), fn);
}

/** `traced` with the span's kind, links and parent chosen by the caller: the envelope helpers need them. */
export function inSpan<T>(name: string, options: SpanOptions, parent: Context, fn: (span: Span) => T): T {
  return tracer().startActiveSpan(name, options, parent, (span) => {
    const fail = (error: unknown) => {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      span.end();
      throw error;
    };
    let result: T;
    try {
      result = fn(span);
    } catch (error) {
      return fail(error);
    }
    if (result instanceof Promise) {
      return result.then((value) => {
        span.end();
        return value;
      }, fail) as T;
    }
    span.end();
    return result;
  });
}
