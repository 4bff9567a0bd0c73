// What a parity test compares of two runs of one app, ours and upstream's instrumentation: spans and
// histogram points with everything taken out that differs between any two runs (ids, times, ports,
// stack traces), so that what is left must be equal.
import type { ReceivedMetric, ReceivedSpan } from './receiver.js';

/** A port of one of the app's servers, by which server it is: each run listens on ports of its own. */
function portNamer(ports: readonly number[]) {
  const port = (value: unknown): unknown => {
    if (typeof value === 'number') return ports.includes(value) ? `port of server ${ports.indexOf(value)}` : value;
    return typeof value === 'string'
      ? value.replace(/:(\d+)\//, (whole, found) => (ports.includes(Number(found)) ? `:${port(Number(found))}/` : whole))
      : value;
  };
  return port;
}

/** What must be equal: everything but ids, times, ports and stack traces, with the parent by its name. */
export function shapes(spans: readonly ReceivedSpan[], ports: readonly number[]) {
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const port = portNamer(ports);
  return spans
    .map((span) => ({
      name: span.name,
      kind: span.kind,
      status: span.status,
      parent: span.parentSpanId === '' ? null : (byId.get(span.parentSpanId)?.name ?? 'not in this app'),
      attributes: Object.fromEntries(
        Object.entries(span.attributes)
          .filter(([key]) => key !== 'network.peer.port')
          .map(([key, value]) => [key, key === 'server.port' || key === 'url.full' ? port(value) : value])
          .sort(([a], [b]) => String(a).localeCompare(String(b))),
      ),
      events: span.events.map((event) => ({
        name: event.name,
        attributes: Object.fromEntries(
          Object.entries(event.attributes).map(([key, value]) => [key, key === 'exception.stacktrace' ? typeof value : value]),
        ),
      })),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/**
 * Each series of the latest export of a histogram (cumulative: it holds the totals), by its
 * attributes, with its count. Series with the same attributes are one: after a handler throws,
 * upstream's instrumentation changes the attributes it recorded, and sends two series that differ
 * only in the order of their attributes, which a backend reads as one.
 */
export function points(metrics: readonly ReceivedMetric[], name: string, ports: readonly number[] = []) {
  const latest = metrics.filter((metric) => metric.name === name).at(-1);
  const port = portNamer(ports);
  const counts = new Map<string, number>();
  for (const point of latest?.points ?? []) {
    const attributes = Object.entries(point.attributes)
      .map(([key, value]) => [key, key === 'server.port' ? port(value) : value])
      .sort(([a], [b]) => String(a).localeCompare(String(b)));
    const key = JSON.stringify(Object.fromEntries(attributes));
    counts.set(key, (counts.get(key) ?? 0) + (point.count ?? 0));
  }
  return [...counts]
    .map(([attributes, count]) => ({ attributes: JSON.parse(attributes) as Record<string, unknown>, count }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}
