import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactedFetchUrl } from '../../../src/instrument/url-redaction.js';

describe('redactedFetchUrl', () => {
  it("replaces the values of a presigned URL's signing parameters, as the http instrumentation does", () => {
    const redacted = redactedFetchUrl({
      origin: 'https://bucket.s3.amazonaws.com',
      path: '/report.pdf?X-Amz-Credential=AKIA%2F20261129&X-Amz-Signature=abc123&X-Amz-Expires=300',
    });
    assert.deepEqual(redacted, {
      'url.full': 'https://bucket.s3.amazonaws.com/report.pdf?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Expires=300',
      'url.query': '?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Expires=300',
    });
  });

  it('finds a parameter whatever its position and encoding, and leaves other URLs as the instrumentation wrote them', () => {
    assert.match(redactedFetchUrl({ origin: 'http://a', path: '/x?a=1&sig=s3cret' })?.['url.full'] ?? '', /sig=REDACTED$/);
    assert.match(redactedFetchUrl({ origin: 'http://a', path: '/x?X%2DGoog-Signature=s3cret' })?.['url.query'] ?? '', /REDACTED/);
    assert.equal(redactedFetchUrl({ origin: 'http://a', path: '/x?page=2&signature=lowercase-is-not-one' }), undefined);
    assert.equal(redactedFetchUrl({ origin: 'http://a', path: '/x' }), undefined);
    assert.equal(redactedFetchUrl({ origin: 'not a url', path: '/x?sig=1' }), undefined);
  });
});
