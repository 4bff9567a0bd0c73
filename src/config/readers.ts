// How one variable's text is read, whichever variable it is: booleans, bounded integers, lists, key=value
// and header entries, endpoint URLs. What cannot be used is said in the one warning format (variable,
// quoted value or entries, what is used instead); header entries only by position, never echoed.
import { DEFAULT_SOURCE } from './types.js';

/** The trimmed value of a variable; undefined when unset, empty or whitespace-only. */
export type Read = (name: string) => string | undefined;
export type Warn = (message: string) => void;

/** A value and the variable it came from. */
export type Sourced<T> = readonly [value: T, source: string];

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

export function readBoolean(read: Read, warn: Warn, name: string, otherwise: string): Sourced<boolean> {
  const raw = read(name);
  if (raw === undefined) return [false, DEFAULT_SOURCE];
  const value = raw.toLowerCase();
  if (TRUE.includes(value)) return [true, name];
  if (FALSE.includes(value)) return [false, name];
  warn(`${name}="${raw}" is not one of true/1/yes/on or false/0/no/off; ${otherwise}`);
  return [false, DEFAULT_SOURCE];
}

/** Node's timers and buffers take at most 2^31-1; larger values would quietly mean 1. */
const MAX_INTEGER = 2 ** 31 - 1;

export function readInteger(read: Read, warn: Warn, name: string, fallback: Sourced<number>, min = 1, max = MAX_INTEGER): Sourced<number> {
  const raw = read(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (Number.isInteger(value) && value >= min && value <= max) return [value, name];
  const problem = Number.isInteger(value) && value > max ? `is larger than ${max}` : `is not a whole number ≥ ${min}`;
  warn(`${name}="${raw}" ${problem}; using ${fallback[0]}`);
  return fallback;
}

export function readList(read: Read, name: string): string[] | undefined {
  const raw = read(name);
  if (raw === undefined) return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** `k=v,k2=v2` with percent-encoded values (W3C baggage style), the malformed entries in one warning. */
export function readKeyValues(read: Read, name: string, warn: Warn): Record<string, string> {
  const raw = read(name);
  if (raw === undefined) return {};
  const entries: [string, string][] = [];
  const malformed: string[] = [];
  for (const item of raw.split(',')) {
    if (item.trim() === '') continue;
    const separator = item.indexOf('=');
    const key = item.slice(0, separator).trim();
    if (separator < 1 || key === '') {
      malformed.push(item.trim());
      continue;
    }
    entries.push([key, decode(item.slice(separator + 1).trim())]);
  }
  const problem = entriesProblem(
    name,
    malformed.map((item) => [item, NOT_KEY_VALUE]),
  );
  if (problem) warn(problem);
  // fromEntries defines every key as data, `__proto__` included, where assignment would not.
  return Object.fromEntries(entries);
}

/** A header name as HTTP and gRPC metadata take it: a token. */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;

export interface Headers {
  readonly name: string;
  readonly headers: Record<string, string>;
}

/**
 * Header names are HTTP tokens, lower-case for gRPC metadata; a bad one would fail every export.
 * Nothing of the variable is ever echoed, names included (`Authorization: Basic …` puts the
 * credential in the "name"): an unusable entry is told by its position and length.
 */
export function readHeaders(read: Read, name: string, warn: Warn): Headers {
  const raw = read(name);
  if (raw === undefined) return { name, headers: {} };
  const entries: [string, string][] = [];
  const unusable: string[] = [];
  raw.split(',').forEach((item, index) => {
    const entry = item.trim();
    if (entry === '') return;
    const separator = entry.indexOf('=');
    const key = entry.slice(0, separator).trim();
    if (separator < 1 || !HEADER_NAME.test(key)) {
      unusable.push(`${index + 1} (${entry.length} characters)`);
      return;
    }
    entries.push([key.toLowerCase(), decode(entry.slice(separator + 1).trim())]);
  });
  if (unusable.length > 0) {
    const which =
      unusable.length === 1 ? `entry ${unusable[0]} is` : `entries ${unusable.slice(0, -1).join(', ')} and ${unusable.at(-1)} are`;
    warn(
      `${name} ${which} not name=value with a valid HTTP header name (letters, digits, -; no spaces or colons); ignoring ${unusable.length === 1 ? 'it' : 'them'}`,
    );
  }
  return { name, headers: Object.fromEntries(entries) };
}

/** The endpoint as written, `http://` added when it has no scheme; undefined when it is no URL at all. */
/** Whether an endpoint the config produced is https://, whatever its scheme's letter case (kept as written). */
export function isHttps(url: string): boolean {
  return new URL(url).protocol === 'https:';
}

export function endpointUrl(raw: string): { text: string; protocol: string } | undefined {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  try {
    return { text, protocol: new URL(text).protocol };
  } catch {
    return undefined;
  }
}

/** Percent-decoded, or as written when it is not valid percent-encoding. */
export function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** How to say what is wrong with one entry of a list, or several for the same reason. */
export interface Why {
  readonly one: string;
  readonly many: string;
}

const NOT_KEY_VALUE: Why = { one: 'is not key=value', many: 'are not key=value' };

/**
 * One line for every unusable entry of one variable, grouped by what is wrong with them:
 * `NAME entries "a", "b" are not …; entry "c" is …; ignoring them`. Undefined when there is none.
 */
export function entriesProblem(name: string, bad: readonly (readonly [entry: string, why: Why])[]): string | undefined {
  const groups = new Map<Why, string[]>();
  for (const [entry, why] of bad) {
    const group = groups.get(why) ?? [];
    if (!group.includes(entry)) group.push(entry);
    groups.set(why, group);
  }
  if (groups.size === 0) return undefined;
  const count = [...groups.values()].reduce((total, group) => total + group.length, 0);
  const parts = [...groups].map(([why, entries]) =>
    entries.length === 1 ? `entry "${entries[0]}" ${why.one}` : `entries ${entries.map((entry) => `"${entry}"`).join(', ')} ${why.many}`,
  );
  return `${name} ${parts.join('; ')}; ignoring ${count === 1 ? 'it' : 'them'}`;
}
