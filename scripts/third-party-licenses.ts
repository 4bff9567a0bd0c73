// Writes dist/THIRD_PARTY_LICENSES.md after the build: the files in dist/ carry code of the packages
// they were bundled from, and those packages' licences ask for their notices to travel with it.
// esbuild names each bundled module in a `// node_modules/…` comment, which is what is read here.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');

/** The package directories (relative to the repository) whose modules are bundled into dist/. */
export function bundledPackages(dist: string): string[] {
  const found = new Set<string>();
  for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
    if (!/\.c?js$/.test(file)) continue;
    for (const [, path] of readFileSync(join(dist, file), 'utf8').matchAll(/^\/\/ (\S*node_modules\/\S+)$/gm)) {
      const directory = path?.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//)?.[1];
      if (directory) found.add(directory);
    }
  }
  return [...found].sort();
}

interface Notice {
  readonly packages: string[];
  readonly license: string;
  readonly text: string;
}

/** One section per distinct licence text, naming every package (and version) it covers. */
export function notices(root: string, directories: readonly string[]): Notice[] {
  const byText = new Map<string, Notice>();
  for (const directory of directories) {
    const manifest = JSON.parse(readFileSync(join(root, directory, 'package.json'), 'utf8'));
    const license = typeof manifest.license === 'string' ? manifest.license : 'see the package';
    const files = readdirSync(join(root, directory))
      .filter((name) => /^(licen[sc]e|notice|copying)(\.|$)/i.test(name))
      .sort();
    const text = files.map((name) => readFileSync(join(root, directory, name), 'utf8').trim()).join('\n\n');
    const key = text || `(no licence file in the package; its package.json says ${license})`;
    const notice: Notice = byText.get(key) ?? { packages: [], license, text: key };
    const id = `${manifest.name}@${manifest.version}`;
    if (!notice.packages.includes(id)) notice.packages.push(id);
    byText.set(key, notice);
  }
  return [...byText.values()];
}

if (process.argv[1] === fileURLToPath(import.meta.url) && existsSync(DIST)) {
  const sections = notices(ROOT, bundledPackages(DIST)).map(
    ({ packages, license, text }) => `## ${packages.join(', ')}\n\n${license}\n\n\`\`\`\n${text}\n\`\`\`\n`,
  );
  writeFileSync(
    join(DIST, 'THIRD_PARTY_LICENSES.md'),
    `# Third-party licences\n\nThe files in this directory include code from the packages below, under these licences.\n\n${sections.join('\n')}`,
  );
}
