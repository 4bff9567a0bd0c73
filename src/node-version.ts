// The running Node's version as numbers, for the few decisions that depend on it (how ES modules can be
// hooked, what doctor warns about).
const [major = 0, minor = 0, patch = 0] = process.versions.node.split('.').map(Number);

export const nodeVersion = { major, minor, patch, text: process.versions.node } as const;

/** Whether the running Node is `wanted` (`[major, minor, patch]`) or later. */
export function nodeAtLeast(...wanted: [major: number, minor?: number, patch?: number]): boolean {
  const running = [major, minor, patch];
  for (let i = 0; i < 3; i++) {
    const [have = 0, want = 0] = [running[i], wanted[i]];
    if (have !== want) return have > want;
  }
  return true;
}
