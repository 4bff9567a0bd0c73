import assert from 'node:assert/strict';
import { it } from 'node:test';
import { nodeAtLeast, nodeVersion } from '../../src/node-version.js';

it('reads the running version as numbers', () => {
  assert.equal(`${nodeVersion.major}.${nodeVersion.minor}.${nodeVersion.patch}`, process.versions.node);
});

it('compares major, then minor, then patch, missing parts counting as 0', () => {
  const { major, minor, patch } = nodeVersion;
  assert.equal(nodeAtLeast(major, minor, patch), true);
  assert.equal(nodeAtLeast(major), true);
  assert.equal(nodeAtLeast(major, minor + 1), false);
  assert.equal(nodeAtLeast(major, minor, patch + 1), false);
  assert.equal(nodeAtLeast(major + 1, 0, 0), false);
  assert.equal(nodeAtLeast(major - 1, 99, 99), true);
});
