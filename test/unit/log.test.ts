import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/parse.js';
import { diagLogger, hidden, hide, say, scrubber } from '../../src/log.js';

describe('scrubber', () => {
  it('replaces every occurrence of every secret with ***', () => {
    const scrub = scrubber(['s3cr3t', 't0ken']);
    assert.equal(scrub('a s3cr3t, a t0ken and s3cr3t again'), 'a ***, a *** and *** again');
  });

  it('matches in any letter case, as gRPC lower-cases metadata keys', () => {
    assert.equal(
      scrubber(['Authorization: Basic dXNl'])('Metadata key "authorization: basic dxnl" contains illegal characters'),
      'Metadata key "***" contains illegal characters',
    );
  });

  it('replaces the longest first, so that a secret containing another goes whole', () => {
    assert.equal(scrubber(['abcd', 'abcdefgh'])('x abcdefgh y'), 'x *** y');
  });

  it('takes secrets literally, regular-expression characters included', () => {
    assert.equal(scrubber(['a.b*c', '(x|y)', '[z]', 'q\\w+$'])('a.b*c (x|y) [z] q\\w+$ aXb*c x'), '*** *** *** *** aXb*c x');
  });

  it('leaves text alone without secrets, and ignores an empty one', () => {
    assert.equal(scrubber([])('nothing to hide'), 'nothing to hide');
    assert.equal(scrubber([''])('nothing to hide'), 'nothing to hide');
  });

  it("hides each of parseConfig's secrets in the text it would print", () => {
    const { secrets } = parseConfig({
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization: Basic dXNlcjpwYXNz==,x-api-key=k3y%2Fvalue',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://us3r:p4ss@collector:4318/?api_key=qu3ry',
    });
    const scrub = scrubber(secrets);
    const printed = [
      'Metadata key "authorization: basic dxnlcjpwyxnz" contains illegal characters',
      'Header name must be a valid HTTP token ["Authorization: Basic dXNlcjpwYXNz"]',
      'dXNlcjpwYXNz k3y%2Fvalue k3y/value',
      'https://us3r:p4ss@collector:4318/v1/traces?api_key=qu3ry',
    ]
      .map(scrub)
      .join('\n');
    for (const secret of ['dXNlcjpwYXNz', 'k3y', 'us3r', 'p4ss', 'qu3ry']) {
      assert.ok(!printed.toLowerCase().includes(secret.toLowerCase()), `${secret} in:\n${printed}`);
    }
    assert.match(printed, /collector:4318\/v1\/traces\?/);
  });
});

describe('say and the diagnostics logger', () => {
  let written: string[] = [];
  const write = process.stderr.write;
  const out = process.stdout.write;
  beforeEach(() => {
    written = [];
    process.stderr.write = ((text: string) => {
      written.push(String(text));
      return true;
    }) as typeof process.stderr.write;
    process.stdout.write = ((text: string) => {
      written.push(`stdout: ${text}`);
      return true;
    }) as typeof process.stdout.write;
  });
  afterEach(() => {
    process.stderr.write = write;
    process.stdout.write = out;
  });

  it('hides what it was told to, from then on, adding to what it hid before', () => {
    say('before: h1dd3nOne');
    hide(['h1dd3nOne']);
    hide(['h1dd3nTwo']);
    say('after: h1dd3nOne and H1DD3NTWO');
    assert.deepEqual(written, ['@rustok/otel: before: h1dd3nOne\n', '@rustok/otel: after: *** and ***\n']);
    assert.ok(hidden().includes('h1dd3nOne') && hidden().includes('h1dd3nTwo'));
  });

  it('prints OpenTelemetry diagnostics on stderr, one scrubbed line each, objects included', () => {
    hide(['Bearer d14gT0ken']);
    const logger = diagLogger();
    logger.debug('exporter options', { url: 'http://collector:4318', headers: { authorization: 'Bearer d14gT0ken' } });
    logger.info('plain %s', 'Bearer d14gT0ken');
    logger.error('failed', new Error('Bearer d14gT0ken rejected').message);
    logger.warn('w');
    logger.verbose('v');
    assert.deepEqual(written, [
      "@rustok/otel: OpenTelemetry debug: exporter options { url: 'http://collector:4318', headers: { authorization: '***' } }\n",
      '@rustok/otel: OpenTelemetry info: plain ***\n',
      '@rustok/otel: OpenTelemetry error: failed *** rejected\n',
      '@rustok/otel: OpenTelemetry warn: w\n',
      '@rustok/otel: OpenTelemetry verbose: v\n',
    ]);
  });
});
