import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/parse.js';
import { redactEndpoint } from '../../../src/config/secrets.js';

type Env = Record<string, string | undefined>;

/** parseConfig with tracing switched on, so warnings about the other variables are reported. */
const enabled = (env: Env) => parseConfig({ OTEL_ENABLED: 'true', ...env });

describe('secrets: nothing of a credential in a warning, all of it in `secrets`', () => {
  // Each way a user really writes a credential into the configuration, and the pieces of it that must never be printed.
  const cases: [string, Env, string[]][] = [
    ['a header with ":" instead of "="', { OTEL_EXPORTER_OTLP_HEADERS: 'Authorization: Basic dXNlcjpwYXNz==' }, ['dXNlcjpwYXNz']],
    ['a header with spaces in its name', { OTEL_EXPORTER_OTLP_HEADERS: 'Api Key=s3cr3tValue,x-ok=fine-value' }, ['s3cr3tValue', 'Api Key']],
    [
      'a header name with a bad character',
      { OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key(s3cr3tName)=s3cr3tValue' },
      ['s3cr3tName', 's3cr3tValue'],
    ],
    [
      'a value with a comma, split in two entries',
      { OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer h3adPart,t4ilPart' },
      ['h3adPart', 't4ilPart'],
    ],
    ['a percent-encoding error', { OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=p3rcent%ZZ' }, ['p3rcent']],
    ['an endpoint with userinfo', { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://us3r:t0ken@collector:4318' }, ['us3r', 't0ken']],
    ['an endpoint with ?api_key=', { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318/?api_key=qu3ryKey' }, ['qu3ryKey']],
    ['an endpoint with #frag', { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318/#fr4gment' }, ['fr4gment']],
    [
      'an unparseable endpoint',
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://us3r:t0ken@collector:43i8/?key=qu3ryKey' },
      ['us3r', 't0ken', 'qu3ryKey'],
    ],
    [
      'an ftp:// endpoint with userinfo',
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://us3r:t0ken@collector/?key=qu3ryKey' },
      ['us3r', 't0ken', 'qu3ryKey'],
    ],
    ['an endpoint without a scheme, with userinfo', { OTEL_EXPORTER_OTLP_ENDPOINT: 'us3r:t0ken@collector:4317' }, ['us3r', 't0ken']],
    ['an endpoint one slash short, with userinfo', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http:/us3r:t0ken@collector:4317' }, ['us3r', 't0ken']],
    [
      'the signal-specific endpoints',
      {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://tr4ce:p4ss@collector:4318/v1/traces?key=tr4ceKey',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'not a url m3tricKey',
      },
      ['tr4ce', 'p4ss', 'tr4ceKey', 'm3tricKey'],
    ],
    [
      'the signal-specific headers',
      { OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'Bearer tr4ceToken', OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'Authorization: m3tricToken' },
      ['tr4ceToken', 'm3tricToken'],
    ],
    [
      'the logs endpoint',
      { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'https://l0gsUser:l0gsP4ss@collector:4318/v1/logs?key=l0gQueryKey#l0gsFr4g' },
      ['l0gsUser', 'l0gsP4ss', 'l0gQueryKey', 'l0gsFr4g'],
    ],
    ['an unparseable logs endpoint', { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'not a url l0gKey123' }, ['l0gKey123']],
    [
      'the logs headers, well-formed and not',
      { OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'x-api-key=l0gsApiKey,Authorization: Bearer l0gsT0ken' },
      ['l0gsApiKey', 'l0gsT0ken'],
    ],
  ];
  for (const [label, env, secrets] of cases) {
    it(`never echoes ${label}, and lists it among the secrets`, () => {
      const result = enabled(env);
      for (const secret of secrets) {
        for (const warning of result.warnings) assert.ok(!warning.includes(secret), `"${warning}" echoes ${secret}`);
        assert.ok(
          result.secrets.some((listed) => listed.includes(secret)),
          `${secret} is not in the secrets: ${result.secrets.join(' | ')}`,
        );
      }
    });
  }

  it('hides what a client key variable holds, a key pasted in or base64 where a path belongs', () => {
    const base64 = 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5';
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';
    const { secrets, warnings } = enabled({ OTEL_EXPORTER_OTLP_CLIENT_KEY: base64, OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY: pem });
    assert.ok(secrets.includes(base64));
    assert.ok(secrets.includes('MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg'));
    assert.ok(!warnings.join('\n').includes('MIGHAgEA') && !warnings.join('\n').includes(base64));
  });

  it('says which header entries are wrong by position and length, in one line per variable', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization: Basic dXNlcjpwYXNz==,x-api-key=ok,Bearer abc' });
    assert.deepEqual(config.traces.otlp.headers, { 'x-api-key': 'ok' });
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_HEADERS entries 1 (35 characters) and 3 (10 characters) are not name=value with a valid HTTP header name (letters, digits, -; no spaces or colons); ignoring them',
    ]);
  });

  it('shows an endpoint whose scheme is wrong with its userinfo and query string hidden', () => {
    const { warnings } = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://us3r:t0ken@collector/x?key=qu3ryKey#fr4g' });
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_ENDPOINT="ftp://***@collector/x?***#***" is not an http:// or https:// URL; using http://localhost:4317',
    ]);
  });

  it('shows an endpoint without a scheme with its userinfo hidden', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'us3r:t0ken@collector:4317' });
    assert.equal(config.traces.otlp.url, 'http://us3r:t0ken@collector:4317');
    assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_ENDPOINT="***@collector:4317" has no scheme; using http://***@collector:4317']);
  });

  it('lists the forms a secret may be printed in: as written, percent-decoded, percent-encoded, lower-cased by nobody', () => {
    const { secrets } = enabled({
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc%2Fdef',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://us%40r:p%20ss@collector:4318',
    });
    for (const form of ['Bearer%20abc%2Fdef', 'Bearer abc/def', 'us%40r:p%20ss', 'us@r:p ss']) {
      assert.ok(secrets.includes(form), `${form} is not in ${secrets.join(' | ')}`);
    }
  });

  it('leaves out strings too short to be worth hiding (values such as dd-protocol=otlp), and lists the longest first', () => {
    const { secrets } = enabled({ OTEL_EXPORTER_OTLP_HEADERS: 'x=1,dd-protocol=otlp,z=abcdefgh,w=abcdefghijkl' });
    assert.deepEqual(secrets, ['abcdefghijkl', 'abcdefgh']);
  });

  it('has no secrets without header variables or credentials in the endpoints', () => {
    assert.deepEqual(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318/otlp' }).secrets, []);
  });

  it('lists the logs header values, raw and percent-decoded, and a short one under a credential name', () => {
    const { secrets } = enabled({ OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'authorization=Basic%20bG9nczpwdw%3D%3D,x-api-key=k3y7' });
    for (const form of ['Basic%20bG9nczpwdw%3D%3D', 'Basic bG9nczpwdw==', 'k3y7']) {
      assert.ok(secrets.includes(form), `${form} is not in ${secrets.join(' | ')}`);
    }
  });

  it('lists the userinfo of the logs endpoint, and shows the endpoint with it hidden', () => {
    const { secrets, warnings } = enabled({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'ftp://l0gsUser:l0gsP4ss@collector/x?key=l0gQueryKey' });
    for (const form of ['l0gsUser:l0gsP4ss', 'l0gsUser', 'l0gsP4ss', 'key=l0gQueryKey', 'l0gQueryKey']) {
      assert.ok(secrets.includes(form), `${form} is not in ${secrets.join(' | ')}`);
    }
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="ftp://***@collector/x?***" is not an http:// or https:// URL; using http://localhost:4317',
    ]);
  });

  it('lists the secrets while tracing is off too, frozen', () => {
    const result = parseConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s3cr3tValue' });
    assert.ok(result.secrets.includes('s3cr3tValue'));
    assert.ok(Object.isFrozen(result.secrets));
  });
});

describe('redactEndpoint', () => {
  const cases: [string, string][] = [
    ['http://localhost:4317', 'http://localhost:4317'],
    ['https://collector:4318/v1/traces', 'https://collector:4318/v1/traces'],
    ['https://user:token@collector:4318/v1/traces?api_key=k#frag', 'https://***@collector:4318/v1/traces?***#***'],
    ['https://user:p@ss@collector', 'https://***@collector'],
    ['http://[::1]:4317/?x', 'http://[::1]:4317/?***'],
    ['user:token@collector:4317', '***@collector:4317'],
    ['https://collector/path@with-at', 'https://***@with-at'],
    ['http:/us3r:p4ss@collector:4318', '***@collector:4318'],
    ['not a url?token=x', 'not a url?***'],
    ['', ''],
  ];
  for (const [url, shown] of cases) {
    it(`shows ${JSON.stringify(url)} as ${JSON.stringify(shown)}`, () => {
      assert.equal(redactEndpoint(url), shown);
    });
  }
});

describe('short credentials', () => {
  it('are hidden under a credential-like header name (a collector may echo them), not under others', () => {
    const { secrets } = parseConfig({ OTEL_ENABLED: 'true', OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=s3cr3t7,dd-protocol=otlp,x-team=shop' });
    assert.ok(secrets.includes('s3cr3t7'));
    assert.ok(!secrets.includes('otlp'));
  });
});
