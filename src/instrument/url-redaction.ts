// The http instrumentation replaces the values of the query parameters that sign a URL (and so
// grant access to what it names) with REDACTED; fetch's, undici, records the URL as written. The
// same parameters are redacted here for fetch, so that a presigned S3 or GCS URL in a span is no key.

/** The parameters the http instrumentation redacts by default (its DEFAULT_QUERY_STRINGS_TO_REDACT). */
const SIGNING_PARAMETERS = [
  'sig',
  'Signature',
  'AWSAccessKeyId',
  'X-Goog-Signature',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
];
const REDACTED = 'REDACTED';

/** A fetch request's `url.full` and `url.query` with the signing parameters' values redacted; undefined when it has none. */
export function redactedFetchUrl(request: { readonly origin: string; readonly path: string }): Record<string, string> | undefined {
  if (!request.path.includes('?')) return undefined;
  let url: URL;
  try {
    url = new URL(request.path, request.origin);
  } catch {
    return undefined;
  }
  let redacted = false;
  for (const name of SIGNING_PARAMETERS) {
    if (url.searchParams.has(name)) {
      url.searchParams.set(name, REDACTED);
      redacted = true;
    }
  }
  return redacted ? { 'url.full': url.toString(), 'url.query': url.search } : undefined;
}
