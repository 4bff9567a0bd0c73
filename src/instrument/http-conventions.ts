// What our HTTP server and client instrumentations share with upstream's, so that dashboards and
// alerts built on upstream's read ours unchanged.
import type { Attributes } from '@opentelemetry/api';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

/** http.request.method: the method in capitals when it is a known one, else `_OTHER`. */
export function normalizedMethod(method: string | undefined): string {
  if (method == null) return 'GET';
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

/** The buckets of upstream's http instrumentation's duration histograms, in seconds. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * How upstream's http instrumentation describes `http.server.request.duration` and
 * `http.client.request.duration`. Calls made with fetch and with node:http go to one client
 * histogram, described so: upstream's undici instrumentation describes its own in other words.
 */
export function durationDescription(side: 'server' | 'client'): string {
  return `Duration of HTTP ${side} requests.`;
}

/** Where an instrumentation records a request's or a call's duration, in seconds (preload/http-durations.ts). */
export interface DurationHistogram {
  record(seconds: number, attributes: Attributes): void;
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
