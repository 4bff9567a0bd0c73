// What our HTTP server and client instrumentations share with upstream's, so that dashboards and
// alerts built on upstream's read ours unchanged.
import type { Histogram, Meter } from '@opentelemetry/api';

type Api = typeof import('@opentelemetry/api');

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

/** http.request.method: the method in capitals when it is a known one, else `_OTHER`. */
export function normalizedMethod(method: string | undefined): string {
  if (method == null) return 'GET';
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * `http.server.request.duration` or `http.client.request.duration`, with the name, unit, buckets
 * and description of upstream's http instrumentation. Calls made with fetch and with node:http go
 * to one client histogram: upstream's undici instrumentation describes its own in other words, and
 * two descriptions under one name and scope would be a conflict.
 */
export function durationHistogram(meter: Meter, { ValueType }: Api, side: 'server' | 'client'): Histogram {
  return meter.createHistogram(`http.${side}.request.duration`, {
    description: `Duration of HTTP ${side} requests.`,
    unit: 's',
    valueType: ValueType.DOUBLE,
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
}

/**
 * Marks a wrapper of ours as shimmer, upstream's wrapping library, marks its own: an app that
 * registers upstream's instrumentation in code of its own (for a hook) then takes ours off before
 * it wraps, instead of tracing every request twice.
 */
export function markWrapped(wrapper: object, original: unknown, unwrap: () => void): void {
  for (const [key, value] of Object.entries({ __original: original, __unwrap: unwrap, __wrapped: true })) {
    Object.defineProperty(wrapper, key, { value, configurable: true, writable: true });
  }
}
