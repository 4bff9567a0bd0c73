// Everything this package has to say goes to stderr as one prefixed line: stdout belongs to the app.
const warned = new Set<string>();

export function say(message: string): void {
  process.stderr.write(`@rustok/otel: ${message}\n`);
}

/** For configuration problems: each distinct one is said once per process. */
export function warn(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  say(message);
}

export function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
