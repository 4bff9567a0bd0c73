// What in the configuration counts as a credential, and how it is kept out of what we print: the one
// place that knows, so that nothing else has to guess. log.ts hides what secretsOf finds; endpoints
// are printed through redactEndpoint.
import { decode, endpointUrl, HEADER_NAME, type Read } from './readers.js';

export const SECRET_MIN_LENGTH = 8;
/** Header names that say their value is a credential (authorization, x-api-key, dd-api-key, x-honeycomb-team, …). */
const CREDENTIAL_NAME = /auth|key|token|secret|pass|team|dsn|signature|cookie/i;
const CREDENTIAL_MIN_LENGTH = 4;
const HEADER_VARIABLES = [
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
  'OTEL_EXPORTER_OTLP_LOGS_HEADERS',
];
/** A file's path belongs here; a key's text (pasted in, or base64 as a Kubernetes Secret holds it) must never be shown. */
const CLIENT_KEY_VARIABLES = [
  'OTEL_EXPORTER_OTLP_CLIENT_KEY',
  'OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY',
  'OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY',
  'OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY',
];
const ENDPOINT_VARIABLES = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT',
];

/** Whether a variable's value may be a private key itself, pasted where a file's path belongs: never to be shown. */
export function holdsPrivateKey(variable: string): boolean {
  return CLIENT_KEY_VARIABLES.includes(variable);
}

/**
 * Every credential the variables hold, in each form it may be printed in: as written, percent-decoded,
 * percent-encoded (a URL parser encodes its userinfo), and the pieces a malformed header entry falls
 * into (`Authorization: Basic dXNl…` → `dXNl…`). Read from the raw variables, used or not.
 */
export function secretsOf(read: Read): string[] {
  const found = new Set<string>();
  const add = (value: string | undefined, minLength = SECRET_MIN_LENGTH) => {
    for (const form of [value, value && decode(value), value && encodeURIComponent(value)]) {
      const text = form?.trim();
      if (text && text.length >= minLength) found.add(text);
    }
  };
  for (const name of HEADER_VARIABLES) {
    for (const item of read(name)?.split(',') ?? []) {
      const entry = item.trim();
      const separator = entry.indexOf('=');
      const key = separator === -1 ? '' : entry.slice(0, separator).trim();
      const value = entry.slice(separator + 1).trim();
      // A collector may echo a rejected key in its answer, which the failure line quotes: under a
      // credential's name, a short value is hidden too.
      add(value, CREDENTIAL_NAME.test(key) ? CREDENTIAL_MIN_LENGTH : SECRET_MIN_LENGTH);
      // The OpenTelemetry exporters read the variable too, and end a value at `;` (baggage properties).
      add(value.split(';')[0]);
      if (separator >= 1 && HEADER_NAME.test(key)) continue;
      // Malformed: any of it may be the credential.
      add(entry);
      add(key);
      for (const piece of entry.split(/[\s:=;]+/)) add(piece);
    }
  }
  for (const name of ENDPOINT_VARIABLES) {
    const raw = read(name);
    if (raw === undefined) continue;
    const [, , address = '', query = '', fragment = ''] = URL_PARTS.exec(raw) ?? [];
    const userinfo = address.slice(0, Math.max(0, address.lastIndexOf('@')));
    add(userinfo);
    // User and password, and not a scheme written with one slash.
    for (const piece of userinfo.slice(userinfo.lastIndexOf('/') + 1).split(':')) add(piece);
    add(query.slice(1));
    for (const parameter of query.slice(1).split('&')) add(parameter.slice(parameter.indexOf('=') + 1));
    add(fragment.slice(1));
    // A URL parser's own encoding of the same parts.
    try {
      const url = new URL(endpointUrl(raw)?.text ?? raw);
      for (const part of [url.username, url.password, url.search.slice(1), url.hash.slice(1)]) add(part);
    } catch {
      // Not a URL at all: none of it is ever printed, and the whole of it is hidden.
      add(raw);
    }
  }
  for (const name of CLIENT_KEY_VARIABLES) {
    const raw = read(name);
    if (raw === undefined) continue;
    add(raw);
    for (const line of raw.split('\n')) add(line);
  }
  // The longest first, so that one containing another is replaced whole.
  return [...found].sort((a, b) => b.length - a.length);
}

/**
 * scheme, address (host and path, userinfo before the last @ in them), query, fragment; matches any
 * string. An @ in the path counts too: `http:/user:pw@host`, one slash short, must not show the password.
 */
const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)?([^?#]*)(\?[^#]*)?(#.*)?$/is;

/**
 * An endpoint as it may be printed: scheme://host:port/path, with `***` for the userinfo, the query
 * string and the fragment, which may hold credentials (`https://***@collector:4318/v1/traces?***`).
 * Works on any string, URL or not.
 */
export function redactEndpoint(url: string): string {
  const [, scheme = '', address = '', query = '', fragment = ''] = URL_PARTS.exec(url) ?? [];
  const at = address.lastIndexOf('@');
  return `${scheme}${at === -1 ? address : `***@${address.slice(at + 1)}`}${query ? '?***' : ''}${fragment ? '#***' : ''}`;
}
