// Everything this package has to say goes to stderr as one prefixed line: stdout belongs to the app.
import { writeSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const warned = new Set<string>();

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
  write(`@rustok/otel: ${message}\n`);
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
