// The http instrumentation replaces the values of the query parameters that sign a URL (and so
// grant access to what it names) with REDACTED; fetch's, undici, records the URL as written. The
// same parameters are redacted here for all our own HTTP spans, and for upstream's undici
// instrumentation when it is brought back (its startSpanHook), so that a presigned S3 or GCS URL in
// a span is no key.

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
  return redactSigningParameters(url.searchParams) ? { 'url.full': url.toString(), 'url.query': url.search } : undefined;
}

/** Replaces the values of the signing parameters in `params` with REDACTED; whether there were any. */
export function redactSigningParameters(params: URLSearchParams): boolean {
  let redacted = false;
  for (const name of SIGNING_PARAMETERS) {
    if (params.has(name)) {
      params.set(name, REDACTED);
      redacted = true;
    }
  }
  return redacted;
}

/** A query (without its `?`) as the http instrumentation writes it: re-encoded, the signing parameters' values redacted. */
export function redactedQuery(query: string | URLSearchParams): string {
  const params = new URLSearchParams(query);
  redactSigningParameters(params);
  return params.toString();
}
