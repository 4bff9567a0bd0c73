// Processes that are not the app although the preload reaches them: under NODE_OPTIONS every Node
// process loads it, and package managers and wrapper commands only start the real app in a child
// (which loads it too). A tracer of their own would be a second start-up line, service and export
// thread for one service. Matched on the real path of the script, since their bins are symlinks.
import { realpathSync } from 'node:fs';

const LAUNCHERS = new RegExp(
  [
    // `rustok-otel doctor` runs with the app's environment, NODE_OPTIONS included.
    String.raw`@rustok/otel/dist/cli\.cjs`,
    String.raw`npm/bin/np[mx]-cli\.js`,
    String.raw`pnpm/(bin|dist)/pnp[mx]\.c?js`,
    String.raw`yarn/(bin/yarn|lib/cli)\.js`,
    String.raw`@yarnpkg/cli-dist/bin/yarn\.js`,
    String.raw`\.yarn/releases/yarn-[^/]*\.c?js`,
    String.raw`corepack/dist/(corepack|npm|npx|pnpm|pnpx|yarn|yarnpkg)\.js`,
    String.raw`tsx/dist/cli\.[cm]?js`,
    String.raw`nodemon/bin/nodemon\.js`,
    String.raw`ts-node-dev/lib/bin\.js`,
    'node-dev/bin/node-dev',
    String.raw`@nestjs/cli/bin/nest\.js`,
    // pm2's commands and its daemon; the app runs in a child of its own (ProcessContainerFork.js).
    'pm2/bin/pm2(-runtime|-docker|-dev)?',
    String.raw`pm2/lib/Daemon\.js`,
    String.raw`cross-env/(src|dist)/bin/cross-env(-shell)?\.js`,
    String.raw`dotenv-cli/cli\.js`,
    String.raw`env-cmd/bin/env-cmd\.js`,
    String.raw`concurrently/dist/bin/concurrently\.js`,
    String.raw`npm-run-all2?/bin/(npm-run-all|run-p|run-s)/index\.js`,
  ]
    .map((path) => `(^|/)${path}$`)
    .join('|'),
);

/** Whether `script` (process.argv[1]) is a package manager or wrapper command rather than an app. */
export function isLauncher(script: string | undefined): boolean {
  if (!script) return false;
  let path = script;
  try {
    path = realpathSync(script);
  } catch {
    // A script that is not a file (`node -e`, a missing path): judged by what it says.
  }
  return LAUNCHERS.test(path.replaceAll('\\', '/'));
}
