import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundledPackages, notices } from '../../scripts/third-party-licenses.js';
import { APP_DIR } from '../helpers/app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'dist');

describe('dist/THIRD_PARTY_LICENSES.md (written by the build)', () => {
  const written = readFileSync(join(DIST, 'THIRD_PARTY_LICENSES.md'), 'utf8');
  const packages = bundledPackages(DIST);

  it('finds the packages the bundles are made of', () => {
    const names = packages.map((directory) => directory.replace(/^.*node_modules\//, ''));
    for (const name of [
      '@opentelemetry/core',
      '@opentelemetry/instrumentation-http',
      '@grpc/grpc-js',
      'protobufjs',
      'require-in-the-middle',
    ]) {
      assert.ok(names.includes(name), `${name} is bundled`);
    }
  });

  it('names every bundled package with its version, under a licence text', () => {
    for (const { packages: ids, text } of notices(ROOT, packages)) {
      assert.ok(text.length > 0);
      for (const id of ids) assert.ok(written.includes(id), `${id} is listed`);
    }
  });

  it('carries the Apache-2.0 text the OpenTelemetry packages come with', () => {
    assert.match(written, /Apache License\s+Version 2\.0/);
  });
});

describe('our own licence', () => {
  it('ships as LICENSE in the installed package, with the text of the licence package.json declares', () => {
    const installed = join(APP_DIR, 'node_modules/@rustok/otel');
    assert.equal(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).license, 'MIT');
    assert.match(readFileSync(join(installed, 'LICENSE'), 'utf8'), /^MIT License\n[\s\S]*Permission is hereby granted, free of charge/);
  });
});
