// Prints received spans as one indented tree per trace: what a trace viewer would show, in a terminal.
import type { ReceivedSpan } from '../../test/helpers/receiver.js';

const KINDS = ['', 'internal', 'server', 'client', 'producer', 'consumer'];

export function renderTrace(spans: readonly ReceivedSpan[]): string {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = (parent: string) =>
    spans
      .filter((span) => (ids.has(span.parentSpanId) ? span.parentSpanId : '') === parent)
      .sort((a, b) => Number(a.startNanos - b.startNanos));
  const lines: string[] = [];
  const visit = (span: ReceivedSpan, depth: number) => {
    const ms = Number(span.endNanos - span.startNanos) / 1e6;
    const status = span.attributes['http.response.status_code'] ?? '';
    const error = span.status.code === 2 ? `  ERROR ${span.status.message}` : '';
    lines.push(`${'  '.repeat(depth + 1)}${span.name}  [${KINDS[span.kind] ?? span.kind}] ${ms.toFixed(1)} ms ${status}${error}`.trimEnd());
    for (const child of children(span.spanId)) visit(child, depth + 1);
  };
  for (const root of children('')) visit(root, 0);
  const service = spans[0]?.resource['service.name'];
  return `trace ${spans[0]?.traceId} (${service}, ${spans.length} spans)\n${lines.join('\n')}`;
}
