// A process that raises a signal against itself expects to die of it at once. The preload's flush has
// to run before that signal is sent, not after, so it watches the one way a process signals itself.
import { constants } from 'node:os';

/**
 * Replaces process.kill so that `around` runs whenever the process sends SIGTERM or SIGINT to itself
 * (by its pid, or to its process group: 0, or minus its pid when it leads the group), with `send`
 * doing the sending. Returns the original, for signals of our own.
 */
export function beforeSignallingItself(around: (signal: NodeJS.Signals, send: () => true) => true): typeof process.kill {
  const original = process.kill;
  const names: Record<number, NodeJS.Signals> = { [constants.signals.SIGTERM]: 'SIGTERM', [constants.signals.SIGINT]: 'SIGINT' };
  process.kill = function kill(pid: number, signal?: string | number): true {
    const send = () => original.call(process, pid, signal);
    const name = typeof signal === 'number' ? names[signal] : (signal ?? 'SIGTERM');
    const itself = [process.pid, 0, -process.pid].includes(Number(pid));
    return itself && (name === 'SIGTERM' || name === 'SIGINT') ? around(name, send) : send();
  };
  return original.bind(process);
}
