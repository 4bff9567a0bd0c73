// Everything this package has to say goes to stderr as one prefixed line: stdout belongs to the app.
// And none of it carries a credential: every line passes through one scrubber that replaces the
// configuration's secrets (config.ts `secrets`, handed to `hide`) with `***`, in this thread and in
// the export thread, which has a module instance of its own (export-thread.ts hands them over).
import { writeSync } from 'node:fs';
import { formatWithOptions } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import type { DiagLogger } from '@opentelemetry/api';

const warned = new Set<string>();
let secrets: readonly string[] = [];
let scrubHidden: (text: string) => string = (text) => text;

/**
 * A function that replaces each of `secrets` wherever it occurs, in any letter case (gRPC lower-cases
 * metadata keys), with `***`; the longest first, so that one containing another goes whole.
 */
export function scrubber(secrets: readonly string[]): (text: string) => string {
  const list = [...new Set(secrets.filter((secret) => secret !== ''))].sort((a, b) => b.length - a.length);
  if (list.length === 0) return (text) => text;
  const pattern = new RegExp(list.map((secret) => secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gi');
  return (text) => text.replace(pattern, '***');
}

/** From now on, nothing this thread's `say` prints contains any of `more`. */
export function hide(more: readonly string[]): void {
  secrets = [...new Set([...secrets, ...more])];
  scrubHidden = scrubber(secrets);
}

/** What `say` hides in this thread: for another thread's `hide`. */
export function hidden(): readonly string[] {
  return secrets;
}

/**
 * The export thread writes to fd 2 itself: a worker's process.stderr is relayed through the main
 * thread, which is blocked exactly when the last words matter (waiting for the flush at exit).
 */
function write(text: string): void {
  if (isMainThread) {
    process.stderr.write(text);
    return;
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      writeSync(2, text);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
  }
}

export function say(message: string): void {
  write(`@rustok/otel: ${scrubHidden(message)}\n`);
}

/** For problems that can recur (a variable read twice, an instrumentation retried): each distinct line once per process. */
export function sayOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  say(message);
}

/** The first line of what went wrong; never throws, whatever was thrown. */
export function reason(error: unknown): string {
  try {
    return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  } catch {
    return Object.prototype.toString.call(error);
  }
}

/**
 * What a TLS or connection error says. OpenSSL's message is its error queue's line, source file and
 * all: its reason is the part that tells. Node's own TLS errors (a certificate for another host) say
 * it in their message.
 */
export function tlsReason(error: Error): string {
  const { reason } = error as { reason?: string };
  return reason && /(^|:)error:[0-9A-F]+:/.test(error.message) ? reason : error.message;
}

/**
 * A throw of an instrumentation of ours on the app's path, caught before it reaches the app: said
 * once per instrumentation and cause, as what it cost, which is that request's telemetry.
 */
export function instrumentationFailed(instrumentation: string, error: unknown): void {
  sayOnce(
    `the ${instrumentation} instrumentation failed on a request (${reason(error)}); its span or duration may be missing, the app is unaffected`,
  );
}

/**
 * For OTEL_LOG_LEVEL: OpenTelemetry's own diagnostics, one line each through `say`, so scrubbed like
 * ours (exporters may log their options, headers included). On stderr at every level, where
 * DiagConsoleLogger would put info and debug on the app's stdout.
 */
export function diagLogger(): DiagLogger {
  const line =
    (level: string) =>
    (message: string, ...args: unknown[]) =>
      say(`OpenTelemetry ${level}: ${formatWithOptions({ breakLength: Number.POSITIVE_INFINITY, colors: false }, message, ...args)}`);
  return { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug'), verbose: line('verbose') };
}
