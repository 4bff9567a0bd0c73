// Assertions on spans finished in-process (the SDK's in-memory exporter), shared by the API's unit tests.
import assert from 'node:assert/strict';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** Asserts that the span has status ERROR with the message and one `exception` event. */
export function assertFailed(span: ReadableSpan, message: string) {
  assert.deepEqual(span.status, { code: SpanStatusCode.ERROR, message });
  const exceptions = span.events.filter((event) => event.name === 'exception');
  assert.equal(exceptions.length, 1, 'one exception event');
  assert.equal(exceptions[0]!.attributes?.['exception.message'], message);
  assert.equal(span.ended, true);
}
