import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { environmentOf, parseConfig } from '../../../src/config/parse.js';
import { INSTRUMENTATIONS } from '../../../src/instrument/catalogue.js';

type Env = Record<string, string | undefined>;

/** parseConfig with tracing switched on, so warnings about the other variables are reported. */
const enabled = (env: Env) => parseConfig({ OTEL_ENABLED: 'true', ...env });

const DEFAULT_INSTRUMENTATIONS = INSTRUMENTATIONS.map((entry) => entry.name).filter((name) => !['fs', 'dns', 'net'].includes(name));

describe('parseConfig defaults', () => {
  it('returns the documented defaults and no warnings for an empty environment', () => {
    const { config, warnings } = parseConfig({});
    assert.deepEqual(warnings, []);
    assert.equal(config.enabled, false);
    assert.equal(config.serviceName, undefined);
    assert.equal(config.serviceVersion, undefined);
    assert.equal(config.environment, undefined);
    assert.equal(environmentOf(config, {}), 'development');
    assert.deepEqual(config.resourceAttributes, {});
    assert.deepEqual(config.resourceDetectors, ['env', 'host', 'os', 'process', 'serviceinstance', 'container']);
    assert.deepEqual(config.traces.otlp, {
      protocol: 'grpc',
      url: 'http://localhost:4317',
      headers: {},
      timeoutMillis: 10000,
      compression: 'none',
      tls: {},
    });
    assert.deepEqual(config.traces.sampler, { ratio: 1, parentBased: true });
    assert.deepEqual(config.traces.batch, {
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
      scheduledDelayMillis: 5000,
      exportTimeoutMillis: 30000,
    });
    assert.deepEqual(config.instrumentations, DEFAULT_INSTRUMENTATIONS);
    assert.deepEqual(config.untracedPaths, []);
    assert.equal(config.shutdownTimeoutMillis, 5000);
    assert.equal(config.logLevel, 'none');
  });

  it('enables every known instrumentation except fs, dns and net by default', () => {
    const { instrumentations } = enabled({}).config;
    for (const noisy of ['fs', 'dns', 'net']) assert.ok(!instrumentations.includes(noisy), `${noisy} is off by default`);
    for (const name of ['http', 'undici', 'express', 'pg', 'aws-lambda'])
      assert.ok(instrumentations.includes(name), `${name} is on by default`);
    assert.equal(instrumentations.length, INSTRUMENTATIONS.length - 3);
  });

  it('returns the same defaults when tracing is enabled, without warnings', () => {
    const { config, warnings } = enabled({});
    assert.deepEqual(warnings, []);
    assert.deepEqual({ ...parseConfig({}).config, enabled: true }, { ...config });
  });
});

describe('OTEL_ENABLED and OTEL_SDK_DISABLED', () => {
  for (const value of ['true', '1', 'yes', 'on', 'TRUE', 'Yes', ' on ']) {
    it(`enables tracing when OTEL_ENABLED is "${value}"`, () => {
      const { config, warnings } = parseConfig({ OTEL_ENABLED: value });
      assert.equal(config.enabled, true);
      assert.deepEqual(warnings, []);
    });
  }

  for (const value of ['false', '0', 'no', 'off', 'FALSE', 'Off']) {
    it(`disables tracing silently when OTEL_ENABLED is "${value}"`, () => {
      const { config, warnings } = parseConfig({ OTEL_ENABLED: value });
      assert.equal(config.enabled, false);
      assert.deepEqual(warnings, []);
    });
  }

  it('keeps tracing off with one warning naming the variable and the value when OTEL_ENABLED is misspelt', () => {
    const { config, warnings } = parseConfig({ OTEL_ENABLED: 'ture' });
    assert.equal(config.enabled, false);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /OTEL_ENABLED/);
    assert.match(warnings[0] ?? '', /"ture"/);
    assert.equal(warnings[0], 'OTEL_ENABLED="ture" is not one of true/1/yes/on or false/0/no/off; tracing stays off');
  });

  it('treats a whitespace-only OTEL_ENABLED as unset: disabled, no warning', () => {
    const { config, warnings } = parseConfig({ OTEL_ENABLED: '   \t ' });
    assert.equal(config.enabled, false);
    assert.deepEqual(warnings, []);
  });

  it('treats an empty OTEL_ENABLED as unset: disabled, no warning', () => {
    const { config, warnings } = parseConfig({ OTEL_ENABLED: '' });
    assert.equal(config.enabled, false);
    assert.deepEqual(warnings, []);
  });

  it('lets OTEL_SDK_DISABLED=true win over OTEL_ENABLED=true', () => {
    assert.equal(parseConfig({ OTEL_ENABLED: 'true', OTEL_SDK_DISABLED: 'true' }).config.enabled, false);
    assert.equal(parseConfig({ OTEL_ENABLED: 'true', OTEL_SDK_DISABLED: 'TRUE' }).config.enabled, false);
  });

  it('does not disable tracing when OTEL_SDK_DISABLED is false', () => {
    const { config, warnings } = parseConfig({ OTEL_ENABLED: 'true', OTEL_SDK_DISABLED: 'false' });
    assert.equal(config.enabled, true);
    assert.deepEqual(warnings, []);
  });

  it('does not enable tracing through OTEL_SDK_DISABLED=false alone', () => {
    assert.equal(parseConfig({ OTEL_SDK_DISABLED: 'false' }).config.enabled, false);
  });

  it('warns about an OTEL_SDK_DISABLED that is neither true nor false and then follows OTEL_ENABLED', () => {
    const on = parseConfig({ OTEL_ENABLED: 'true', OTEL_SDK_DISABLED: 'yes' });
    assert.equal(on.config.enabled, true);
    assert.deepEqual(on.warnings, ['OTEL_SDK_DISABLED="yes" is neither true nor false; ignoring it']);
    const off = parseConfig({ OTEL_SDK_DISABLED: 'maybe' });
    assert.equal(off.config.enabled, false);
    assert.deepEqual(off.warnings, ['OTEL_SDK_DISABLED="maybe" is neither true nor false; ignoring it']);
  });
});

describe('warnings while tracing is off', () => {
  it('reports nothing about other variables when OTEL_ENABLED is unset', () => {
    const { warnings } = parseConfig({
      OTEL_SAMPLING_RATE: 'abc',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x',
      OTEL_BSP_MAX_QUEUE_SIZE: 'lots',
      OTEL_LOG_LEVEL: 'loud',
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'nope',
    });
    assert.deepEqual(warnings, []);
  });

  it('reports only the OTEL_ENABLED warning when OTEL_ENABLED is invalid and other variables are too', () => {
    const { warnings } = parseConfig({ OTEL_ENABLED: 'ture', OTEL_SAMPLING_RATE: 'abc', OTEL_LOG_LEVEL: 'loud' });
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]?.startsWith('OTEL_ENABLED="ture"'));
  });

  it('reports nothing about other variables when OTEL_SDK_DISABLED=true', () => {
    const { warnings } = parseConfig({ OTEL_ENABLED: 'true', OTEL_SDK_DISABLED: 'true', OTEL_SAMPLING_RATE: 'abc' });
    assert.deepEqual(warnings, []);
  });

  it('still parses the other variables while tracing is off', () => {
    const { config } = parseConfig({ OTEL_SAMPLING_RATE: '0.5', OTEL_SERVICE_NAME: 'shop' });
    assert.equal(config.traces.sampler.ratio, 0.5);
    assert.equal(config.serviceName, 'shop');
  });
});

describe('OTEL_SAMPLING_RATE', () => {
  it('uses a ratio between 0 and 1 as the parent-based sampling ratio', () => {
    const { config, warnings } = enabled({ OTEL_SAMPLING_RATE: '0.25' });
    assert.deepEqual(config.traces.sampler, { ratio: 0.25, parentBased: true });
    assert.deepEqual(warnings, []);
  });

  it('accepts the bounds 0 and 1', () => {
    assert.equal(enabled({ OTEL_SAMPLING_RATE: '0' }).config.traces.sampler.ratio, 0);
    assert.equal(enabled({ OTEL_SAMPLING_RATE: '1' }).config.traces.sampler.ratio, 1);
    assert.equal(enabled({ OTEL_SAMPLING_RATE: ' 0.5 ' }).config.traces.sampler.ratio, 0.5);
  });

  it('warns that a non-number is not a number and samples everything', () => {
    const { config, warnings } = enabled({ OTEL_SAMPLING_RATE: 'abc' });
    assert.equal(config.traces.sampler.ratio, 1);
    assert.deepEqual(warnings, ['OTEL_SAMPLING_RATE="abc" is not a number; using 1']);
  });

  for (const value of ['1.5', '-1']) {
    it(`warns that ${value} is outside 0..1 and samples everything`, () => {
      const { config, warnings } = enabled({ OTEL_SAMPLING_RATE: value });
      assert.equal(config.traces.sampler.ratio, 1);
      assert.deepEqual(warnings, [`OTEL_SAMPLING_RATE="${value}" is outside 0..1; using 1`]);
    });
  }

  it('treats Infinity as not a number', () => {
    const { config, warnings } = enabled({ OTEL_SAMPLING_RATE: 'Infinity' });
    assert.equal(config.traces.sampler.ratio, 1);
    assert.deepEqual(warnings, ['OTEL_SAMPLING_RATE="Infinity" is not a number; using 1']);
  });
});

describe('OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG', () => {
  const cases: [string, string | undefined, { ratio: number; parentBased: boolean }][] = [
    ['always_on', undefined, { ratio: 1, parentBased: false }],
    ['always_off', undefined, { ratio: 0, parentBased: false }],
    ['parentbased_always_on', undefined, { ratio: 1, parentBased: true }],
    ['parentbased_always_off', undefined, { ratio: 0, parentBased: true }],
    ['parentbased_traceidratio', '0.1', { ratio: 0.1, parentBased: true }],
    ['traceidratio', '0.3', { ratio: 0.3, parentBased: false }],
    ['traceidratio', undefined, { ratio: 1, parentBased: false }],
    ['ALWAYS_OFF', undefined, { ratio: 0, parentBased: false }],
  ];
  for (const [sampler, arg, expected] of cases) {
    it(`maps OTEL_TRACES_SAMPLER=${sampler}${arg === undefined ? '' : ` with argument ${arg}`} to ratio ${expected.ratio}, parentBased ${expected.parentBased}`, () => {
      const { config, warnings } = enabled({ OTEL_TRACES_SAMPLER: sampler, OTEL_TRACES_SAMPLER_ARG: arg });
      assert.deepEqual(config.traces.sampler, expected);
      assert.deepEqual(warnings, []);
    });
  }

  it('ignores OTEL_TRACES_SAMPLER_ARG for samplers that take no argument', () => {
    assert.deepEqual(enabled({ OTEL_TRACES_SAMPLER: 'always_off', OTEL_TRACES_SAMPLER_ARG: '0.5' }).config.traces.sampler, {
      ratio: 0,
      parentBased: false,
    });
  });

  it('warns about a bad OTEL_TRACES_SAMPLER_ARG and samples everything', () => {
    const { config, warnings } = enabled({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' });
    assert.deepEqual(config.traces.sampler, { ratio: 1, parentBased: false });
    assert.deepEqual(warnings, ['OTEL_TRACES_SAMPLER_ARG="2" is outside 0..1; using 1']);
  });

  it('warns about an unknown sampler name and falls back to OTEL_SAMPLING_RATE', () => {
    const { config, warnings } = enabled({ OTEL_TRACES_SAMPLER: 'jaeger_remote', OTEL_SAMPLING_RATE: '0.2' });
    assert.deepEqual(config.traces.sampler, { ratio: 0.2, parentBased: true });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^OTEL_TRACES_SAMPLER="jaeger_remote" is not one of .*always_on.*; using OTEL_SAMPLING_RATE$/);
  });

  it('warns that OTEL_SAMPLING_RATE is ignored when a standard OTEL_TRACES_SAMPLER is also set', () => {
    const { config, warnings } = enabled({ OTEL_TRACES_SAMPLER: 'always_off', OTEL_SAMPLING_RATE: '0.5' });
    assert.deepEqual(config.traces.sampler, { ratio: 0, parentBased: false });
    assert.deepEqual(warnings, ['OTEL_SAMPLING_RATE="0.5" is ignored because OTEL_TRACES_SAMPLER="always_off" is set']);
  });

  for (const name of ['constructor', '__proto__']) {
    it(`rejects OTEL_TRACES_SAMPLER=${name}, an Object.prototype member, as an unknown sampler`, () => {
      const { config, warnings } = enabled({ OTEL_TRACES_SAMPLER: name });
      assert.deepEqual(config.traces.sampler, { ratio: 1, parentBased: true });
      assert.equal(warnings.length, 1);
      assert.ok(warnings[0]?.startsWith(`OTEL_TRACES_SAMPLER="${name}" is not one of`));
    });
  }
});

describe('exporter protocol and endpoint', () => {
  it('uses http://localhost:4318/v1/traces for http/protobuf by default', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
    assert.equal(config.traces.otlp.protocol, 'http/protobuf');
    assert.equal(config.traces.otlp.url, 'http://localhost:4318/v1/traces');
    assert.deepEqual(warnings, []);
  });

  it('lets OTEL_EXPORTER_OTLP_TRACES_PROTOCOL win over OTEL_EXPORTER_OTLP_PROTOCOL', () => {
    const { config } = enabled({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' });
    assert.equal(config.traces.otlp.protocol, 'http/protobuf');
  });

  it('warns about an unknown protocol and uses grpc', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    assert.equal(config.traces.otlp.protocol, 'grpc');
    assert.equal(config.traces.otlp.url, 'http://localhost:4317');
    assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_PROTOCOL="http/json" is not grpc or http/protobuf; using grpc']);
  });

  it('names the traces-specific protocol variable when that one is invalid', () => {
    const { warnings } = enabled({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'udp' });
    assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="udp" is not grpc or http/protobuf; using grpc']);
  });

  it('appends /v1/traces to the OTEL_EXPORTER_OTLP_ENDPOINT base for http/protobuf', () => {
    const env = { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318' };
    assert.equal(enabled(env).config.traces.otlp.url, 'https://collector:4318/v1/traces');
  });

  it('does not double the slash when the http/protobuf base ends with slashes', () => {
    const one = enabled({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' });
    assert.equal(one.config.traces.otlp.url, 'http://collector:4318/v1/traces');
    const prefixed = enabled({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw/otlp//' });
    assert.equal(prefixed.config.traces.otlp.url, 'http://gw/otlp/v1/traces');
  });

  it('uses OTEL_EXPORTER_OTLP_ENDPOINT as-is for grpc', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317' });
    assert.equal(config.traces.otlp.url, 'http://collector:4317');
    assert.deepEqual(warnings, []);
  });

  it('uses OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as-is and prefers it over OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    const { config } = enabled({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:9999/custom/path',
    });
    assert.equal(config.traces.otlp.url, 'http://traces:9999/custom/path');
  });

  it('warns about an endpoint that is not a URL without echoing it, and uses the default', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' });
    assert.equal(config.traces.otlp.url, 'http://localhost:4317');
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_ENDPOINT (9 characters, not shown) does not parse as a URL; using http://localhost:4317',
    ]);
  });

  it('names the http/protobuf default URL in the warning about an invalid endpoint', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' });
    assert.equal(config.traces.otlp.url, 'http://localhost:4318/v1/traces');
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_ENDPOINT="ftp://x" is not an http:// or https:// URL; using http://localhost:4318/v1/traces',
    ]);
  });

  it('adds http:// to an endpoint without a scheme, with a warning', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' });
    assert.equal(config.traces.otlp.url, 'http://collector:4317');
    assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_ENDPOINT="collector:4317" has no scheme; using http://collector:4317']);
  });

  it('rejects an ftp:// endpoint with a warning and uses the default', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x' });
    assert.equal(config.traces.otlp.url, 'http://localhost:4317');
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]?.startsWith('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="ftp://x" is not an http:// or https:// URL'));
  });

  it('falls back to OTEL_EXPORTER_OTLP_ENDPOINT when the traces-specific endpoint is invalid', () => {
    const { config } = enabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317' });
    assert.equal(config.traces.otlp.url, 'http://collector:4317');
  });

  it('names the URL actually used when an invalid traces-specific endpoint falls back to OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    const { config, warnings } = enabled({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317',
    });
    assert.equal(config.traces.otlp.url, 'http://collector:4317');
    assert.equal(warnings.length, 1);
    assert.ok(!warnings[0]?.includes('localhost'), `the warning claims the default is used: ${warnings[0]}`);
  });
});

describe('exporter headers and timeout', () => {
  it('parses key=value pairs and percent-decodes the values', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_HEADERS: 'api-key=secret,x=1, authorization = Bearer%20abc%3D%3D ' });
    assert.deepEqual(config.traces.otlp.headers, { 'api-key': 'secret', x: '1', authorization: 'Bearer abc==' });
    assert.deepEqual(warnings, []);
  });

  it('drops a header whose name is not an HTTP token, by position and length, echoing neither name nor value, and lower-cases the rest', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_HEADERS: 'Api-Key=secret,bad key=hidden' });
    assert.deepEqual(config.traces.otlp.headers, { 'api-key': 'secret' });
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_HEADERS entry 2 (14 characters) is not name=value with a valid HTTP header name (letters, digits, -; no spaces or colons); ignoring it',
    ]);
  });

  it('keeps everything after the first = as the value', () => {
    assert.deepEqual(enabled({ OTEL_EXPORTER_OTLP_HEADERS: 'token=a=b==' }).config.traces.otlp.headers, { token: 'a=b==' });
  });

  it('keeps a value that is not valid percent-encoding as written', () => {
    assert.deepEqual(enabled({ OTEL_EXPORTER_OTLP_HEADERS: 'k=100%' }).config.traces.otlp.headers, { k: '100%' });
  });

  it('skips empty entries silently', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_HEADERS: ',a=1,,b=2,' });
    assert.deepEqual(config.traces.otlp.headers, { a: '1', b: '2' });
    assert.deepEqual(warnings, []);
  });

  it('lets OTEL_EXPORTER_OTLP_TRACES_HEADERS override and add to OTEL_EXPORTER_OTLP_HEADERS', () => {
    const { config } = enabled({
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=general,x=1',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'api-key=traces,y=2',
    });
    assert.deepEqual(config.traces.otlp.headers, { 'api-key': 'traces', x: '1', y: '2' });
  });

  it('warns about a malformed header entry by position, without echoing its value', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_HEADERS: 'api-key=ok,sup3rs3cr3t,=alsos3cr3t' });
    assert.deepEqual(config.traces.otlp.headers, { 'api-key': 'ok' });
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_HEADERS entries 2 (11 characters) and 3 (11 characters) are not name=value with a valid HTTP header name (letters, digits, -; no spaces or colons); ignoring them',
    ]);
    for (const warning of warnings) {
      assert.ok(!warning.includes('sup3rs3cr3t'), 'the malformed entry is not echoed');
      assert.ok(!warning.includes('alsos3cr3t'), 'the malformed entry is not echoed');
    }
  });

  it('does not echo a malformed traces-specific header entry either', () => {
    const { warnings } = enabled({ OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'Bearer t0k3n' });
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_TRACES_HEADERS entry 1 (12 characters) is not name=value with a valid HTTP header name (letters, digits, -; no spaces or colons); ignoring it',
    ]);
  });

  it('reads the export timeout from OTEL_EXPORTER_OTLP_TRACES_TIMEOUT before OTEL_EXPORTER_OTLP_TIMEOUT', () => {
    assert.equal(enabled({ OTEL_EXPORTER_OTLP_TIMEOUT: '2000' }).config.traces.otlp.timeoutMillis, 2000);
    assert.equal(
      enabled({ OTEL_EXPORTER_OTLP_TIMEOUT: '2000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3000' }).config.traces.otlp.timeoutMillis,
      3000,
    );
  });

  it('reads compression per signal before the general variable, and warns about a value it cannot use', () => {
    const { config, sources, warnings } = enabled({
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'none',
      OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'zstd',
    });
    assert.deepEqual(
      [config.traces.otlp.compression, config.metrics.otlp.compression, config.logs.otlp.compression],
      ['gzip', 'gzip', 'none'],
    );
    assert.deepEqual(
      [sources['traces.otlp.compression'], sources['metrics.otlp.compression'], sources['logs.otlp.compression']],
      ['OTEL_EXPORTER_OTLP_COMPRESSION', 'OTEL_EXPORTER_OTLP_COMPRESSION', 'OTEL_EXPORTER_OTLP_LOGS_COMPRESSION'],
    );
    assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_METRICS_COMPRESSION="zstd" is not gzip or none; using gzip']);
  });

  it('reads the TLS files per signal before the general variables, each with the variable it came from', () => {
    const { config, sources, warnings } = enabled({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example:4317',
      OTEL_EXPORTER_OTLP_CERTIFICATE: 'ca.pem',
      OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: '/etc/traces-ca.pem',
      OTEL_EXPORTER_OTLP_CLIENT_KEY: 'key.pem',
      OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: 'cert.pem',
    });
    // Metrics and logs have no client certificate of their own: the general key alone is half of one.
    assert.deepEqual(warnings, [
      "OTEL_EXPORTER_OTLP_CLIENT_KEY is set, but no OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE (or a signal's own) goes with it; metrics and logs go without a client certificate",
    ]);
    assert.deepEqual(config.traces.otlp.tls, {
      certificate: { path: '/etc/traces-ca.pem', variable: 'OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE' },
      clientKey: { path: 'key.pem', variable: 'OTEL_EXPORTER_OTLP_CLIENT_KEY' },
      clientCertificate: { path: 'cert.pem', variable: 'OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE' },
    });
    assert.equal(
      sources['traces.otlp.tls'],
      'OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_KEY, OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE',
    );
    assert.deepEqual(config.metrics.otlp.tls, { certificate: { path: 'ca.pem', variable: 'OTEL_EXPORTER_OTLP_CERTIFICATE' } });
    assert.deepEqual(parseConfig({}).config.traces.otlp.tls, {});
  });

  it('says a client key without its certificate once, for every signal it leaves without one, and uses neither', () => {
    const https = { OTEL_EXPORTER_OTLP_ENDPOINT: 'HTTPS://collector.example:4317' };
    const { config, sources, warnings } = enabled({ ...https, OTEL_EXPORTER_OTLP_CLIENT_KEY: 'key.pem' });
    assert.deepEqual(config.traces.otlp.tls, {});
    assert.equal(sources['traces.otlp.tls'], 'default');
    assert.deepEqual(warnings, [
      "OTEL_EXPORTER_OTLP_CLIENT_KEY is set, but no OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE (or a signal's own) goes with it; traces, metrics and logs go without a client certificate",
    ]);
    assert.deepEqual(enabled({ ...https, OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE: 'cert.pem' }).warnings, [
      "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE is set, but no OTEL_EXPORTER_OTLP_CLIENT_KEY (or a signal's own) goes with it; logs go without a client certificate",
    ]);
    // Only where one would be sent: signals exported over OTLP, to an https:// endpoint.
    const elsewhere = { OTEL_EXPORTER_OTLP_CLIENT_KEY: 'key.pem', OTEL_METRICS_EXPORTER: 'prometheus', OTEL_LOGS_EXPORTER: 'none' };
    assert.deepEqual(enabled({ ...https, ...elsewhere }).warnings, [
      "OTEL_EXPORTER_OTLP_CLIENT_KEY is set, but no OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE (or a signal's own) goes with it; traces go without a client certificate",
    ]);
    assert.deepEqual(enabled({ OTEL_EXPORTER_OTLP_CLIENT_KEY: 'key.pem' }).warnings, []);
  });

  it('refuses PEM text where a file path belongs, without showing it', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_CLIENT_KEY: pem, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: 'cert.pem' });
    assert.deepEqual(config.traces.otlp.tls, {});
    assert.ok(warnings.includes('OTEL_EXPORTER_OTLP_CLIENT_KEY holds PEM text (not shown), not the path of a file; it is not used'));
    assert.ok(!warnings.join('\n').includes('MIGHAgEA'));
  });

  it('reads compression in any letter case', () => {
    assert.equal(enabled({ OTEL_EXPORTER_OTLP_COMPRESSION: 'GZIP' }).config.traces.otlp.compression, 'gzip');
  });

  it('warns about a bad timeout, naming the variable that was read', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: 'soon' });
    assert.equal(config.traces.otlp.timeoutMillis, 10000);
    assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="soon" is not a whole number ≥ 1; using 10000']);
  });
});

describe('resource attributes, service and environment', () => {
  it('parses OTEL_RESOURCE_ATTRIBUTES into key/value pairs with percent-decoded values', () => {
    const { config, warnings } = enabled({ OTEL_RESOURCE_ATTRIBUTES: 'team=checkout,region=eu%2Dwest,note=a%20b' });
    assert.deepEqual(config.resourceAttributes, { team: 'checkout', region: 'eu-west', note: 'a b' });
    assert.deepEqual(warnings, []);
  });

  it('warns about a malformed resource attribute, quoting it', () => {
    const { config, warnings } = enabled({ OTEL_RESOURCE_ATTRIBUTES: 'team=checkout,oops' });
    assert.deepEqual(config.resourceAttributes, { team: 'checkout' });
    assert.deepEqual(warnings, ['OTEL_RESOURCE_ATTRIBUTES entry "oops" is not key=value; ignoring it']);
  });

  it('takes service name, version and environment from OTEL_RESOURCE_ATTRIBUTES when the dedicated variables are unset', () => {
    const { config } = enabled({
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,service.version=1.2.3,deployment.environment.name=staging',
    });
    assert.equal(config.serviceName, 'from-attrs');
    assert.equal(config.serviceVersion, '1.2.3');
    assert.equal(config.environment, 'staging');
  });

  it('lets the dedicated variables override OTEL_RESOURCE_ATTRIBUTES', () => {
    const { config } = enabled({
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,service.version=1.2.3,deployment.environment.name=staging',
      OTEL_SERVICE_NAME: 'shop',
      OTEL_SERVICE_VERSION: '9.9.9',
      NODE_ENV: 'production',
    });
    assert.equal(config.serviceName, 'shop');
    assert.equal(config.serviceVersion, '9.9.9');
    assert.equal(config.environment, 'production');
  });

  it('prefers RUST_ENV over NODE_ENV for the environment', () => {
    assert.equal(enabled({ RUST_ENV: 'prod-eu', NODE_ENV: 'production' }).config.environment, 'prod-eu');
    assert.equal(enabled({ NODE_ENV: 'test' }).config.environment, 'test');
  });

  it('trims the service name and ignores a blank one', () => {
    assert.equal(enabled({ OTEL_SERVICE_NAME: '  shop  ' }).config.serviceName, 'shop');
    assert.equal(enabled({ OTEL_SERVICE_NAME: '   ' }).config.serviceName, undefined);
  });
});

describe('batch span processor variables', () => {
  it('reads the four OTEL_BSP_* integers', () => {
    const { config, warnings } = enabled({
      OTEL_BSP_MAX_QUEUE_SIZE: '4096',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1024',
      OTEL_BSP_SCHEDULE_DELAY: '250',
      OTEL_BSP_EXPORT_TIMEOUT: '1000',
    });
    assert.deepEqual(config.traces.batch, {
      maxQueueSize: 4096,
      maxExportBatchSize: 1024,
      scheduledDelayMillis: 250,
      exportTimeoutMillis: 1000,
    });
    assert.deepEqual(warnings, []);
  });

  it('allows a schedule delay of 0 but not a queue size of 0', () => {
    const { config, warnings } = enabled({ OTEL_BSP_SCHEDULE_DELAY: '0', OTEL_BSP_MAX_QUEUE_SIZE: '0' });
    assert.equal(config.traces.batch.scheduledDelayMillis, 0);
    assert.equal(config.traces.batch.maxQueueSize, 2048);
    assert.deepEqual(warnings, ['OTEL_BSP_MAX_QUEUE_SIZE="0" is not a whole number ≥ 1; using 2048']);
  });

  for (const value of ['abc', '1.5', '-5', 'Infinity']) {
    it(`warns about OTEL_BSP_EXPORT_TIMEOUT="${value}" and uses the default`, () => {
      const { config, warnings } = enabled({ OTEL_BSP_EXPORT_TIMEOUT: value });
      assert.equal(config.traces.batch.exportTimeoutMillis, 30000);
      assert.deepEqual(warnings, [`OTEL_BSP_EXPORT_TIMEOUT="${value}" is not a whole number ≥ 1; using 30000`]);
    });
  }

  it('warns about a negative schedule delay with the minimum 0', () => {
    const { warnings } = enabled({ OTEL_BSP_SCHEDULE_DELAY: '-1' });
    assert.deepEqual(warnings, ['OTEL_BSP_SCHEDULE_DELAY="-1" is not a whole number ≥ 0; using 5000']);
  });

  it('refuses a number too large for a Node timer instead of letting it fire at once', () => {
    const { config, warnings } = enabled({ OTEL_SHUTDOWN_TIMEOUT_MS: '1e308' });
    assert.equal(config.shutdownTimeoutMillis, 5000);
    assert.deepEqual(warnings, ['OTEL_SHUTDOWN_TIMEOUT_MS="1e308" is larger than 2147483647; using 5000']);
  });

  it('clamps a batch size larger than the queue to the queue size, with a warning', () => {
    const { config, warnings } = enabled({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '200' });
    assert.equal(config.traces.batch.maxQueueSize, 100);
    assert.equal(config.traces.batch.maxExportBatchSize, 100);
    assert.deepEqual(warnings, ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE="200" is larger than the queue (100); using 100']);
  });

  it('keeps a batch size equal to the queue size', () => {
    const { config, warnings } = enabled({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '100' });
    assert.equal(config.traces.batch.maxExportBatchSize, 100);
    assert.deepEqual(warnings, []);
  });

  it('clamps the default batch size to a smaller queue', () => {
    const { config } = enabled({ OTEL_BSP_MAX_QUEUE_SIZE: '100' });
    assert.equal(config.traces.batch.maxExportBatchSize, 100);
  });

  it('does not blame the unset OTEL_BSP_MAX_EXPORT_BATCH_SIZE when only the queue size is lowered', () => {
    const { warnings } = enabled({ OTEL_BSP_MAX_QUEUE_SIZE: '100' });
    assert.ok(
      warnings.every((warning) => !warning.startsWith('OTEL_BSP_MAX_EXPORT_BATCH_SIZE="512"')),
      `a warning quotes a value the user never set: ${warnings.join(' | ')}`,
    );
  });

  it('reads OTEL_SHUTDOWN_TIMEOUT_MS and warns about a bad one', () => {
    assert.equal(enabled({ OTEL_SHUTDOWN_TIMEOUT_MS: '1500' }).config.shutdownTimeoutMillis, 1500);
    const bad = enabled({ OTEL_SHUTDOWN_TIMEOUT_MS: '1.5s' });
    assert.equal(bad.config.shutdownTimeoutMillis, 5000);
    assert.deepEqual(bad.warnings, ['OTEL_SHUTDOWN_TIMEOUT_MS="1.5s" is not a whole number ≥ 1; using 5000']);
  });
});

describe('OTEL_NODE_ENABLED_INSTRUMENTATIONS and OTEL_NODE_DISABLED_INSTRUMENTATIONS', () => {
  it('enables exactly the listed instrumentations, in the given order', () => {
    const { config, warnings } = enabled({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: ' http , express,pg' });
    assert.deepEqual(config.instrumentations, ['http', 'express', 'pg']);
    assert.deepEqual(warnings, []);
  });

  it('can enable the noisy fs, dns and net instrumentations', () => {
    assert.deepEqual(enabled({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,fs,dns,net' }).config.instrumentations, [
      'http',
      'fs',
      'dns',
      'net',
    ]);
  });

  it('warns about an unknown name and ignores it', () => {
    const { config, warnings } = enabled({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,htttp' });
    assert.deepEqual(config.instrumentations, ['http']);
    assert.deepEqual(warnings, [
      'OTEL_NODE_ENABLED_INSTRUMENTATIONS entry "htttp" is not a known instrumentation (see the README for the names); ignoring it',
    ]);
  });

  it('explains in one line that runtime-node comes with metrics and host metrics with the Collector', () => {
    const { config, warnings } = enabled({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,runtime-node,host-metrics' });
    assert.deepEqual(config.instrumentations, ['http']);
    assert.deepEqual(warnings, [
      'OTEL_NODE_ENABLED_INSTRUMENTATIONS entry "runtime-node" is loaded with metrics, not traces (OTEL_METRICS_EXPORTER); ' +
        'entry "host-metrics" makes host metrics, which are the Collector\'s job (its hostmetrics receiver); ignoring them',
    ]);
  });

  it('turns the runtime metrics off when runtime-node is disabled, without a warning', () => {
    assert.equal(enabled({}).config.metrics.runtime, true);
    const { config, warnings } = enabled({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'runtime-node' });
    assert.equal(config.metrics.runtime, false);
    assert.deepEqual(warnings, []);
  });

  it('enables nothing when the enabled list has only separators', () => {
    assert.deepEqual(enabled({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: ' , ,' }).config.instrumentations, []);
  });

  it('removes the disabled instrumentations from the defaults', () => {
    const { config, warnings } = enabled({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http,undici' });
    assert.deepEqual(
      config.instrumentations,
      DEFAULT_INSTRUMENTATIONS.filter((name) => name !== 'http' && name !== 'undici'),
    );
    assert.deepEqual(warnings, []);
  });

  it('lets the disabled list win over the enabled list', () => {
    assert.deepEqual(
      enabled({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pg,fs', OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pg' }).config.instrumentations,
      ['http', 'fs'],
    );
  });

  it('warns about an unknown disabled name, naming the disabled variable', () => {
    const { warnings } = enabled({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'mystery' });
    assert.deepEqual(warnings, [
      'OTEL_NODE_DISABLED_INSTRUMENTATIONS entry "mystery" is not a known instrumentation (see the README for the names); ignoring it',
    ]);
  });
});

describe('OTEL_NODE_RESOURCE_DETECTORS', () => {
  it('uses every detector, cloud ones included, for all', () => {
    assert.deepEqual(enabled({ OTEL_NODE_RESOURCE_DETECTORS: 'all' }).config.resourceDetectors, [
      'env',
      'host',
      'os',
      'process',
      'serviceinstance',
      'container',
      'alibaba',
      'aws',
      'azure',
      'gcp',
    ]);
  });

  it('uses no detector for none', () => {
    assert.deepEqual(enabled({ OTEL_NODE_RESOURCE_DETECTORS: 'none' }).config.resourceDetectors, []);
  });

  it('uses exactly the listed detectors', () => {
    const { config, warnings } = enabled({ OTEL_NODE_RESOURCE_DETECTORS: 'env, aws ,host' });
    assert.deepEqual(config.resourceDetectors, ['env', 'aws', 'host']);
    assert.deepEqual(warnings, []);
  });

  it('warns about an unknown detector and ignores it', () => {
    const { config, warnings } = enabled({ OTEL_NODE_RESOURCE_DETECTORS: 'env,heroku' });
    assert.deepEqual(config.resourceDetectors, ['env']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^OTEL_NODE_RESOURCE_DETECTORS entry "heroku" is not one of .*, all, none; ignoring it$/);
  });
});

describe('OTEL_NODE_UNTRACED_PATHS', () => {
  it('reads a comma-separated list of paths', () => {
    const { config, warnings } = enabled({ OTEL_NODE_UNTRACED_PATHS: '/health, /metrics ,/ready' });
    assert.deepEqual(config.untracedPaths, ['/health', '/metrics', '/ready']);
    assert.deepEqual(warnings, []);
  });

  it('warns about and ignores an entry that does not start with /', () => {
    const { config, warnings } = enabled({ OTEL_NODE_UNTRACED_PATHS: '/health,metrics' });
    assert.deepEqual(config.untracedPaths, ['/health']);
    assert.deepEqual(warnings, ['OTEL_NODE_UNTRACED_PATHS entry "metrics" does not start with /; ignoring it']);
  });
});

describe('OTEL_NODE_EXPRESS_LAYERS', () => {
  it('gives request handlers a span, not middleware and routers, by default', () => {
    assert.deepEqual(enabled({}).config.expressLayers, ['request_handler']);
  });

  it('reads a list of layer types, or all of them', () => {
    assert.deepEqual(enabled({ OTEL_NODE_EXPRESS_LAYERS: 'middleware, request_handler' }).config.expressLayers, [
      'middleware',
      'request_handler',
    ]);
    assert.deepEqual(enabled({ OTEL_NODE_EXPRESS_LAYERS: 'all' }).config.expressLayers, ['request_handler', 'router', 'middleware']);
  });

  it('warns about and ignores an unknown layer type', () => {
    const { config, warnings } = enabled({ OTEL_NODE_EXPRESS_LAYERS: 'router,handlers' });
    assert.deepEqual(config.expressLayers, ['router']);
    assert.deepEqual(warnings, [
      'OTEL_NODE_EXPRESS_LAYERS entry "handlers" is not one of request_handler, router, middleware, all; ignoring it',
    ]);
  });
});

describe('OTEL_NODE_UPSTREAM_INSTRUMENTATIONS', () => {
  it('keeps our own instrumentations by default', () => {
    assert.deepEqual(enabled({}).config.upstreamInstrumentations, []);
  });

  it('reads the ones to replace with upstream, and says where that came from', () => {
    const { config, sources } = enabled({ OTEL_NODE_UPSTREAM_INSTRUMENTATIONS: ' http , express' });
    assert.deepEqual(config.upstreamInstrumentations, ['http', 'express']);
    assert.equal(sources.upstreamInstrumentations, 'OTEL_NODE_UPSTREAM_INSTRUMENTATIONS');
  });

  it('warns about and ignores a name we have no instrumentation of our own for', () => {
    const { config, warnings } = enabled({ OTEL_NODE_UPSTREAM_INSTRUMENTATIONS: 'http,pg' });
    assert.deepEqual(config.upstreamInstrumentations, ['http']);
    assert.deepEqual(warnings, [
      'OTEL_NODE_UPSTREAM_INSTRUMENTATIONS entry "pg" has no instrumentation of ours to replace (http, express, undici can); ignoring it',
    ]);
  });
});

describe('OTEL_LOG_LEVEL', () => {
  for (const [raw, expected] of [
    ['debug', 'debug'],
    ['DEBUG', 'debug'],
    ['Warn', 'warn'],
    ['all', 'all'],
    ['none', 'none'],
  ] as const) {
    it(`reads OTEL_LOG_LEVEL="${raw}" as ${expected}`, () => {
      const { config, warnings } = enabled({ OTEL_LOG_LEVEL: raw });
      assert.equal(config.logLevel, expected);
      assert.deepEqual(warnings, []);
    });
  }

  it('warns about an unknown log level and uses none', () => {
    const { config, warnings } = enabled({ OTEL_LOG_LEVEL: 'loud' });
    assert.equal(config.logLevel, 'none');
    assert.deepEqual(warnings, ['OTEL_LOG_LEVEL="loud" is not one of none, error, warn, info, debug, verbose, all; using none']);
  });
});

describe('immutability and robustness', () => {
  const busy: Env = {
    OTEL_ENABLED: 'true',
    OTEL_RESOURCE_ATTRIBUTES: 'a=1',
    OTEL_EXPORTER_OTLP_HEADERS: 'k=v',
    OTEL_NODE_UNTRACED_PATHS: '/health',
  };

  it('freezes the result, the config and its nested objects and arrays', () => {
    const result = parseConfig(busy);
    const { config } = result;
    assert.ok(Object.isFrozen(result), 'result');
    assert.ok(Object.isFrozen(result.warnings), 'warnings');
    assert.ok(Object.isFrozen(config), 'config');
    assert.ok(Object.isFrozen(config.resourceAttributes), 'resourceAttributes');
    assert.ok(Object.isFrozen(config.traces), 'traces');
    assert.ok(Object.isFrozen(config.traces.otlp), 'traces.otlp');
    assert.ok(Object.isFrozen(config.traces.otlp.headers), 'traces.otlp.headers');
    assert.ok(Object.isFrozen(config.traces.sampler), 'traces.sampler');
    assert.ok(Object.isFrozen(config.traces.batch), 'traces.batch');
    assert.ok(Object.isFrozen(config.logs), 'logs');
    assert.ok(Object.isFrozen(config.logs.otlp), 'logs.otlp');
    assert.ok(Object.isFrozen(config.logs.otlp.headers), 'logs.otlp.headers');
    assert.ok(Object.isFrozen(config.logs.batch), 'logs.batch');
    assert.ok(Object.isFrozen(config.instrumentations), 'instrumentations');
    assert.ok(Object.isFrozen(config.untracedPaths), 'untracedPaths');
  });

  it('rejects writes to the frozen config', () => {
    const { config } = parseConfig(busy);
    assert.throws(() => {
      (config as { enabled: boolean }).enabled = false;
    }, TypeError);
    assert.throws(() => {
      (config.traces.otlp.headers as Record<string, string>).k = 'changed';
    }, TypeError);
  });

  it('freezes the resource detector list too, so one caller cannot change the defaults of the next', () => {
    const { config } = parseConfig({});
    assert.ok(Object.isFrozen(config.resourceDetectors), 'resourceDetectors is frozen');
    assert.ok(Object.isFrozen(parseConfig({ OTEL_NODE_RESOURCE_DETECTORS: 'env' }).config.resourceDetectors), 'a listed one too');
  });

  it('does not share the instrumentation list between calls', () => {
    const first = parseConfig({}).config.instrumentations;
    const second = parseConfig({}).config.instrumentations;
    assert.notEqual(first, second);
    assert.deepEqual(first, second);
  });

  it('does not read process.env', () => {
    const saved = process.env.OTEL_ENABLED;
    process.env.OTEL_ENABLED = 'true';
    try {
      assert.equal(parseConfig({}).config.enabled, false);
    } finally {
      if (saved === undefined) delete process.env.OTEL_ENABLED;
      else process.env.OTEL_ENABLED = saved;
    }
  });

  const weird = [
    ',,,,,',
    '====',
    '=,=,=',
    'a=,=b,,c',
    '%',
    '%E0%A4%A',
    '%00',
    'ünïcödé=☃,🚀=🌕',
    '日本語',
    '\u0000\u0001\u001f',
    '__proto__=x',
    'constructor',
    '\n\r\t',
    'x'.repeat(100_000),
    `${'k=v,'.repeat(10_000)}`,
    '://',
    'http://',
    'http://[::1',
    '-0',
    '1e308',
    'NaN',
  ];
  const variables = [
    'OTEL_ENABLED',
    'OTEL_SDK_DISABLED',
    'OTEL_SERVICE_NAME',
    'OTEL_RESOURCE_ATTRIBUTES',
    'OTEL_EXPORTER_OTLP_PROTOCOL',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    'OTEL_EXPORTER_OTLP_HEADERS',
    'OTEL_EXPORTER_OTLP_TIMEOUT',
    'OTEL_TRACES_SAMPLER',
    'OTEL_TRACES_SAMPLER_ARG',
    'OTEL_SAMPLING_RATE',
    'OTEL_BSP_MAX_QUEUE_SIZE',
    'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
    'OTEL_LOGS_EXPORTER',
    'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT',
    'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL',
    'OTEL_EXPORTER_OTLP_LOGS_HEADERS',
    'OTEL_EXPORTER_OTLP_LOGS_TIMEOUT',
    'OTEL_BLRP_MAX_QUEUE_SIZE',
    'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE',
    'OTEL_BLRP_SCHEDULE_DELAY',
    'OTEL_NODE_ENABLED_INSTRUMENTATIONS',
    'OTEL_NODE_DISABLED_INSTRUMENTATIONS',
    'OTEL_NODE_RESOURCE_DETECTORS',
    'OTEL_NODE_UNTRACED_PATHS',
    'OTEL_LOG_LEVEL',
  ];

  it('never throws and always returns a usable config for weird values', () => {
    for (const value of weird) {
      for (const name of variables) {
        const env = { OTEL_ENABLED: 'true', [name]: value };
        const { config, warnings } = parseConfig(env);
        assert.equal(typeof config.enabled, 'boolean');
        assert.ok(
          /^https?:\/\//.test(config.traces.otlp.url),
          `${name}=${JSON.stringify(value.slice(0, 40))} gave url ${config.traces.otlp.url}`,
        );
        assert.ok(config.traces.sampler.ratio >= 0 && config.traces.sampler.ratio <= 1);
        assert.ok(config.traces.batch.maxExportBatchSize <= config.traces.batch.maxQueueSize);
        assert.ok(/^https?:\/\//.test(config.logs.otlp.url), `${name} gave logs url ${config.logs.otlp.url}`);
        assert.ok(['otlp', 'none'].includes(config.logs.exporter));
        assert.ok(config.logs.batch.maxExportBatchSize <= config.logs.batch.maxQueueSize);
        assert.ok(Array.isArray(warnings));
      }
      // Every variable at once.
      assert.doesNotThrow(() => parseConfig(Object.fromEntries(variables.map((name) => [name, value]))));
    }
  });

  it('reports each distinct warning once even when it is triggered twice', () => {
    const { warnings } = enabled({
      OTEL_NODE_UNTRACED_PATHS: 'health,health,/ok,health',
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'nope,http,nope',
      OTEL_RESOURCE_ATTRIBUTES: 'bad,a=1,bad',
    });
    assert.deepEqual([...warnings].sort(), [
      'OTEL_NODE_ENABLED_INSTRUMENTATIONS entry "nope" is not a known instrumentation (see the README for the names); ignoring it',
      'OTEL_NODE_UNTRACED_PATHS entry "health" does not start with /; ignoring it',
      'OTEL_RESOURCE_ATTRIBUTES entry "bad" is not key=value; ignoring it',
    ]);
  });
});

describe('metrics', () => {
  it('exports over OTLP to the same collector every 60 s by default, with the runtime metrics', () => {
    const { config, warnings } = enabled({});
    assert.deepEqual(config.metrics, {
      exporter: 'otlp',
      otlp: { protocol: 'grpc', url: 'http://localhost:4317', headers: {}, timeoutMillis: 10000, compression: 'none', tls: {} },
      intervalMillis: 60000,
      prometheus: { host: undefined, port: 9464 },
      runtime: true,
    });
    assert.deepEqual(warnings, []);
  });

  it('posts to /v1/metrics under the general endpoint over HTTP, with the general headers', () => {
    const { config } = enabled({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318/',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=secret',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-traces-only=1',
      OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
    });
    assert.deepEqual(config.metrics.otlp, {
      protocol: 'http/protobuf',
      url: 'https://collector:4318/v1/metrics',
      headers: { 'x-api-key': 'secret' },
      timeoutMillis: 3000,
      compression: 'none',
      tls: {},
    });
    assert.equal(config.traces.otlp.url, 'https://collector:4318/v1/traces');
  });

  it('takes OTEL_EXPORTER_OTLP_METRICS_ENDPOINT as the full URL, leaving traces alone', () => {
    const { config } = enabled({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://metrics-gateway:4317',
    });
    assert.equal(config.metrics.otlp.url, 'http://metrics-gateway:4317');
    assert.equal(config.traces.otlp.url, 'http://collector:4317');
  });

  it('reads the exporter choice, the interval and the Prometheus address', () => {
    const { config, warnings } = enabled({
      OTEL_METRICS_EXPORTER: 'Prometheus',
      OTEL_METRIC_EXPORT_INTERVAL: '15000',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: '9100',
    });
    assert.equal(config.metrics.exporter, 'prometheus');
    assert.equal(config.metrics.intervalMillis, 15000);
    assert.deepEqual(config.metrics.prometheus, { host: '127.0.0.1', port: 9100 });
    assert.deepEqual(warnings, []);
    assert.equal(enabled({ OTEL_METRICS_EXPORTER: 'none' }).config.metrics.exporter, 'none');
  });

  it('explains each unusable value once and uses the default', () => {
    const { config, warnings } = enabled({
      OTEL_METRICS_EXPORTER: 'otlp,prometheus',
      OTEL_METRIC_EXPORT_INTERVAL: '1m',
      OTEL_EXPORTER_PROMETHEUS_PORT: '-1',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'ftp://x',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://y',
    });
    assert.equal(config.metrics.exporter, 'otlp');
    assert.equal(config.metrics.intervalMillis, 60000);
    assert.equal(config.metrics.prometheus.port, 9464);
    assert.equal(config.metrics.otlp.url, 'http://localhost:4317');
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_ENDPOINT="ftp://y" is not an http:// or https:// URL; using http://localhost:4317',
      'OTEL_METRICS_EXPORTER="otlp,prometheus" is not one of otlp, prometheus, none; using otlp',
      'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="ftp://x" is not an http:// or https:// URL; using http://localhost:4317',
      'OTEL_METRIC_EXPORT_INTERVAL="1m" is not a whole number ≥ 1; using 60000',
      'OTEL_EXPORTER_PROMETHEUS_PORT="-1" is not a whole number ≥ 0; using 9464',
    ]);
  });

  it('keeps the Prometheus port within the ports there are', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_PROMETHEUS_PORT: '70000' });
    assert.equal(config.metrics.prometheus.port, 9464);
    assert.deepEqual(warnings, ['OTEL_EXPORTER_PROMETHEUS_PORT="70000" is larger than 65535; using 9464']);
  });

  it('says nothing about metrics variables while tracing is off', () => {
    assert.deepEqual(parseConfig({ OTEL_METRICS_EXPORTER: 'statsd', OTEL_METRIC_EXPORT_INTERVAL: 'x' }).warnings, []);
  });
});

describe('the metrics exporter variables', () => {
  it('keeps OTEL_EXPORTER_OTLP_TRACES_PROTOCOL to traces', () => {
    const { config } = enabled({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' });
    assert.equal(config.traces.otlp.protocol, 'http/protobuf');
    assert.equal(config.traces.otlp.url, 'http://localhost:4318/v1/traces');
    assert.equal(config.metrics.otlp.protocol, 'grpc');
    assert.equal(config.metrics.otlp.url, 'http://localhost:4317');
  });

  it('reads the metrics protocol, headers and timeout from their own variables, falling back to the general ones', () => {
    const { config, warnings, sources } = enabled({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=general,x=1',
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'api-key=metrics',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
      OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '4000',
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.metrics.otlp, {
      protocol: 'http/protobuf',
      url: 'https://collector:4318/v1/metrics',
      headers: { 'api-key': 'metrics', x: '1' },
      timeoutMillis: 4000,
      compression: 'none',
      tls: {},
    });
    assert.deepEqual(config.traces.otlp, {
      protocol: 'grpc',
      url: 'https://collector:4318',
      headers: { 'api-key': 'general', x: '1' },
      timeoutMillis: 2000,
      compression: 'none',
      tls: {},
    });
    assert.equal(sources['metrics.otlp.protocol'], 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL');
    assert.equal(sources['metrics.otlp.headers'], 'OTEL_EXPORTER_OTLP_METRICS_HEADERS, OTEL_EXPORTER_OTLP_HEADERS');
    assert.equal(sources['metrics.otlp.timeoutMillis'], 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT');
  });

  it('falls back to OTEL_EXPORTER_OTLP_PROTOCOL when the signal-specific protocol is unusable', () => {
    const { config, warnings } = enabled({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
    });
    assert.equal(config.metrics.otlp.protocol, 'http/protobuf');
    assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="http/json" is not grpc or http/protobuf; using http/protobuf']);
  });

  it('warns about a bad metrics timeout and uses the general one', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_TIMEOUT: '2000', OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: 'soon' });
    assert.equal(config.metrics.otlp.timeoutMillis, 2000);
    assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_METRICS_TIMEOUT="soon" is not a whole number ≥ 1; using 2000']);
  });

  it('appends /v1/<signal> to the path, before a query string or fragment', () => {
    const { config } = enabled({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw/otlp/?api_key=k#f',
    });
    assert.equal(config.traces.otlp.url, 'https://gw/otlp/v1/traces?api_key=k#f');
    assert.equal(config.metrics.otlp.url, 'https://gw/otlp/v1/metrics?api_key=k#f');
  });
});

describe('logs', () => {
  it('exports over OTLP to the same collector by default, in batches of up to 512 every second', () => {
    const { config, warnings, sources } = enabled({});
    assert.deepEqual(config.logs, {
      exporter: 'otlp',
      otlp: { protocol: 'grpc', url: 'http://localhost:4317', headers: {}, timeoutMillis: 10000, compression: 'none', tls: {} },
      batch: { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 1000, exportTimeoutMillis: 30000 },
    });
    assert.deepEqual(warnings, []);
    for (const [setting, source] of Object.entries(sources).filter(([key]) => key.startsWith('logs.'))) {
      assert.equal(source, 'default', setting);
    }
  });

  it('posts to /v1/logs under the general endpoint over HTTP, with the general headers and timeout', () => {
    const { config, sources } = enabled({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318/',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=secret',
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-metrics-only=1',
      OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
    });
    assert.deepEqual(config.logs.otlp, {
      protocol: 'http/protobuf',
      url: 'https://collector:4318/v1/logs',
      headers: { 'x-api-key': 'secret' },
      timeoutMillis: 3000,
      compression: 'none',
      tls: {},
    });
    assert.equal(sources['logs.otlp.protocol'], 'OTEL_EXPORTER_OTLP_PROTOCOL');
    assert.equal(sources['logs.otlp.url'], 'OTEL_EXPORTER_OTLP_ENDPOINT');
    assert.equal(sources['logs.otlp.headers'], 'OTEL_EXPORTER_OTLP_HEADERS');
    assert.equal(sources['logs.otlp.timeoutMillis'], 'OTEL_EXPORTER_OTLP_TIMEOUT');
  });

  it('appends /v1/logs before a query string or fragment, and uses the general endpoint as it is for grpc', () => {
    const http = enabled({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw/otlp/?api_key=k#f' });
    assert.equal(http.config.logs.otlp.url, 'https://gw/otlp/v1/logs?api_key=k#f');
    assert.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317/' }).config.logs.otlp.url, 'http://collector:4317/');
  });

  it('takes OTEL_EXPORTER_OTLP_LOGS_ENDPOINT as the full URL, leaving traces and metrics alone', () => {
    const { config, warnings, sources } = enabled({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'https://logs-gateway/ingest',
    });
    assert.equal(config.logs.otlp.url, 'https://logs-gateway/ingest');
    assert.equal(config.traces.otlp.url, 'http://collector:4318/v1/traces');
    assert.equal(config.metrics.otlp.url, 'http://collector:4318/v1/metrics');
    assert.equal(sources['logs.otlp.url'], 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT');
    assert.deepEqual(warnings, []);
  });

  it('reads the logs protocol, headers and timeout from their own variables, falling back to the general ones', () => {
    const { config, warnings, sources } = enabled({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=general,x=1',
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'api-key=logs',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
      OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: '4000',
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.logs.otlp, {
      protocol: 'http/protobuf',
      url: 'https://collector:4318/v1/logs',
      headers: { 'api-key': 'logs', x: '1' },
      timeoutMillis: 4000,
      compression: 'none',
      tls: {},
    });
    assert.deepEqual(config.traces.otlp, {
      protocol: 'grpc',
      url: 'https://collector:4318',
      headers: { 'api-key': 'general', x: '1' },
      timeoutMillis: 2000,
      compression: 'none',
      tls: {},
    });
    assert.deepEqual(config.metrics.otlp.headers, { 'api-key': 'general', x: '1' });
    assert.equal(sources['logs.otlp.protocol'], 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL');
    assert.equal(sources['logs.otlp.headers'], 'OTEL_EXPORTER_OTLP_LOGS_HEADERS, OTEL_EXPORTER_OTLP_HEADERS');
    assert.equal(sources['logs.otlp.timeoutMillis'], 'OTEL_EXPORTER_OTLP_LOGS_TIMEOUT');
  });

  it('keeps OTEL_EXPORTER_OTLP_LOGS_PROTOCOL to logs, with the http/protobuf default URL', () => {
    const { config } = enabled({ OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf' });
    assert.equal(config.logs.otlp.url, 'http://localhost:4318/v1/logs');
    assert.equal(config.traces.otlp.protocol, 'grpc');
    assert.equal(config.metrics.otlp.protocol, 'grpc');
  });

  it('falls back to OTEL_EXPORTER_OTLP_PROTOCOL when the logs protocol is unusable', () => {
    const { config, warnings, sources } = enabled({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json',
    });
    assert.equal(config.logs.otlp.protocol, 'http/protobuf');
    assert.equal(sources['logs.otlp.protocol'], 'OTEL_EXPORTER_OTLP_PROTOCOL');
    assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_LOGS_PROTOCOL="http/json" is not grpc or http/protobuf; using http/protobuf']);
  });

  it('warns about a bad logs timeout and uses the general one', () => {
    const { config, warnings, sources } = enabled({ OTEL_EXPORTER_OTLP_TIMEOUT: '2000', OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: '5s' });
    assert.equal(config.logs.otlp.timeoutMillis, 2000);
    assert.equal(sources['logs.otlp.timeoutMillis'], 'OTEL_EXPORTER_OTLP_TIMEOUT');
    assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_LOGS_TIMEOUT="5s" is not a whole number ≥ 1; using 2000']);
  });

  it('falls back to the general endpoint when the logs endpoint is unusable, naming the URL used', () => {
    const { config, warnings, sources } = enabled({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'ftp://logs',
    });
    assert.equal(config.logs.otlp.url, 'http://collector:4318/v1/logs');
    assert.equal(sources['logs.otlp.url'], 'OTEL_EXPORTER_OTLP_ENDPOINT');
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="ftp://logs" is not an http:// or https:// URL; using http://collector:4318/v1/logs',
    ]);
  });

  it('adds http:// to a logs endpoint without a scheme, with a warning', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'collector:4317' });
    assert.equal(config.logs.otlp.url, 'http://collector:4317');
    assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="collector:4317" has no scheme; using http://collector:4317']);
  });

  it('says an unusable general endpoint once, for traces, and not again for metrics and logs', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector' });
    assert.equal(config.logs.otlp.url, 'http://localhost:4317');
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_ENDPOINT="ftp://collector" is not an http:// or https:// URL; using http://localhost:4317',
    ]);
  });

  it('warns about a malformed logs header entry by position, without echoing it, and keeps the rest', () => {
    const { config, warnings } = enabled({ OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'Authorization: Bearer l0gsT0ken,x-ok=1' });
    assert.deepEqual(config.logs.otlp.headers, { 'x-ok': '1' });
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_LOGS_HEADERS entry 1 (31 characters) is not name=value with a valid HTTP header name (letters, digits, -; no spaces or colons); ignoring it',
    ]);
  });

  it('says nothing about logs variables while tracing is off, and keeps it for doctor', () => {
    const env = {
      OTEL_LOGS_EXPORTER: 'console',
      OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: 'x',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'ftp://logs',
      OTEL_BLRP_MAX_QUEUE_SIZE: 'lots',
      OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '4096',
    };
    const { warnings, silenced } = parseConfig(env);
    assert.deepEqual(warnings, []);
    assert.deepEqual(silenced, enabled(env).warnings);
    assert.equal(silenced.length, 5);
  });
});

describe('OTEL_LOGS_EXPORTER', () => {
  for (const [raw, expected] of [
    ['otlp', 'otlp'],
    ['OTLP', 'otlp'],
    [' otlp ', 'otlp'],
    ['otlp,otlp', 'otlp'],
    ['none', 'none'],
    ['None', 'none'],
  ] as const) {
    it(`reads "${raw}" as ${expected}, without a warning`, () => {
      const { config, warnings, sources } = enabled({ OTEL_LOGS_EXPORTER: raw });
      assert.equal(config.logs.exporter, expected);
      assert.equal(sources['logs.exporter'], 'OTEL_LOGS_EXPORTER');
      assert.deepEqual(warnings, []);
    });
  }

  for (const raw of ['otlp,none', 'none,otlp', 'console,none', ' otlp , NONE ']) {
    it(`sends no logs for "${raw}": none anywhere in the list wins, as in the OpenTelemetry SDK`, () => {
      const { config, warnings, sources } = enabled({ OTEL_LOGS_EXPORTER: raw });
      assert.equal(config.logs.exporter, 'none');
      assert.equal(sources['logs.exporter'], 'OTEL_LOGS_EXPORTER');
      assert.deepEqual(warnings, []);
    });
  }

  for (const raw of ['console', 'logging', 'otpl', ',']) {
    it(`warns once about "${raw}", naming the variable and the value, and uses otlp`, () => {
      const { config, warnings, sources } = enabled({ OTEL_LOGS_EXPORTER: raw });
      assert.equal(config.logs.exporter, 'otlp');
      assert.equal(sources['logs.exporter'], 'default');
      assert.deepEqual(warnings, [`OTEL_LOGS_EXPORTER="${raw}" is not one of otlp, none; using otlp`]);
    });
  }

  it('names the unknown entries of a list in one line, and keeps otlp when the list has it', () => {
    const mixed = enabled({ OTEL_LOGS_EXPORTER: 'otlp,console' });
    assert.equal(mixed.config.logs.exporter, 'otlp');
    assert.equal(mixed.sources['logs.exporter'], 'OTEL_LOGS_EXPORTER');
    assert.deepEqual(mixed.warnings, ['OTEL_LOGS_EXPORTER="otlp,console" has console, which is not one of otlp, none; using otlp']);
    const unknown = enabled({ OTEL_LOGS_EXPORTER: 'console,logging,console' });
    assert.equal(unknown.config.logs.exporter, 'otlp');
    assert.equal(unknown.sources['logs.exporter'], 'default');
    assert.deepEqual(unknown.warnings, [
      'OTEL_LOGS_EXPORTER="console,logging,console" has console, logging, which are not any of otlp, none; using otlp',
    ]);
  });

  for (const raw of ['', '   ']) {
    it(`treats ${JSON.stringify(raw)} as unset: otlp, no warning`, () => {
      const { config, warnings, sources } = enabled({ OTEL_LOGS_EXPORTER: raw });
      assert.equal(config.logs.exporter, 'otlp');
      assert.equal(sources['logs.exporter'], 'default');
      assert.deepEqual(warnings, []);
    });
  }
});

describe('batch log record processor variables', () => {
  it('reads the four OTEL_BLRP_* integers, each naming its source, and leaves the span batches alone', () => {
    const { config, warnings, sources } = enabled({
      OTEL_BLRP_MAX_QUEUE_SIZE: '4096',
      OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '1024',
      OTEL_BLRP_SCHEDULE_DELAY: '250',
      OTEL_BLRP_EXPORT_TIMEOUT: '1000',
    });
    assert.deepEqual(config.logs.batch, {
      maxQueueSize: 4096,
      maxExportBatchSize: 1024,
      scheduledDelayMillis: 250,
      exportTimeoutMillis: 1000,
    });
    assert.deepEqual(config.traces.batch, {
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
      scheduledDelayMillis: 5000,
      exportTimeoutMillis: 30000,
    });
    assert.deepEqual(warnings, []);
    assert.equal(sources['logs.batch.maxQueueSize'], 'OTEL_BLRP_MAX_QUEUE_SIZE');
    assert.equal(sources['logs.batch.maxExportBatchSize'], 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE');
    assert.equal(sources['logs.batch.scheduledDelayMillis'], 'OTEL_BLRP_SCHEDULE_DELAY');
    assert.equal(sources['logs.batch.exportTimeoutMillis'], 'OTEL_BLRP_EXPORT_TIMEOUT');
  });

  it('does not take the span batch settings for logs', () => {
    const { config } = enabled({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_SCHEDULE_DELAY: '10' });
    assert.deepEqual(config.logs.batch, {
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
      scheduledDelayMillis: 1000,
      exportTimeoutMillis: 30000,
    });
  });

  for (const [name, fallback, setting] of [
    ['OTEL_BLRP_MAX_QUEUE_SIZE', 2048, 'maxQueueSize'],
    ['OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', 512, 'maxExportBatchSize'],
    ['OTEL_BLRP_SCHEDULE_DELAY', 1000, 'scheduledDelayMillis'],
    ['OTEL_BLRP_EXPORT_TIMEOUT', 30000, 'exportTimeoutMillis'],
  ] as const) {
    it(`warns about ${name}="1.5" and uses ${fallback}`, () => {
      const { config, warnings, sources } = enabled({ [name]: '1.5' });
      assert.equal(config.logs.batch[setting], fallback);
      assert.equal(sources[`logs.batch.${setting}`], 'default');
      const min = name === 'OTEL_BLRP_SCHEDULE_DELAY' ? 0 : 1;
      assert.deepEqual(warnings, [`${name}="1.5" is not a whole number ≥ ${min}; using ${fallback}`]);
    });
  }

  it('allows a schedule delay of 0 but not a queue size of 0', () => {
    const { config, warnings } = enabled({ OTEL_BLRP_SCHEDULE_DELAY: '0', OTEL_BLRP_MAX_QUEUE_SIZE: '0' });
    assert.equal(config.logs.batch.scheduledDelayMillis, 0);
    assert.equal(config.logs.batch.maxQueueSize, 2048);
    assert.deepEqual(warnings, ['OTEL_BLRP_MAX_QUEUE_SIZE="0" is not a whole number ≥ 1; using 2048']);
  });

  it('refuses an export timeout too large for a Node timer', () => {
    const { config, warnings } = enabled({ OTEL_BLRP_EXPORT_TIMEOUT: '1e308' });
    assert.equal(config.logs.batch.exportTimeoutMillis, 30000);
    assert.deepEqual(warnings, ['OTEL_BLRP_EXPORT_TIMEOUT="1e308" is larger than 2147483647; using 30000']);
  });

  it('clamps a batch size larger than the queue to the queue size, with a warning', () => {
    const { config, warnings, sources } = enabled({ OTEL_BLRP_MAX_QUEUE_SIZE: '100', OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '200' });
    assert.equal(config.logs.batch.maxQueueSize, 100);
    assert.equal(config.logs.batch.maxExportBatchSize, 100);
    assert.equal(sources['logs.batch.maxExportBatchSize'], 'OTEL_BLRP_MAX_QUEUE_SIZE');
    assert.deepEqual(warnings, ['OTEL_BLRP_MAX_EXPORT_BATCH_SIZE="200" is larger than the queue (100); using 100']);
  });

  it('keeps a batch size equal to the queue size', () => {
    const { config, warnings } = enabled({ OTEL_BLRP_MAX_QUEUE_SIZE: '100', OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '100' });
    assert.equal(config.logs.batch.maxExportBatchSize, 100);
    assert.deepEqual(warnings, []);
  });

  it('clamps the default batch size to a smaller queue without blaming the unset variable', () => {
    const { config, warnings, sources } = enabled({ OTEL_BLRP_MAX_QUEUE_SIZE: '100' });
    assert.equal(config.logs.batch.maxExportBatchSize, 100);
    assert.equal(sources['logs.batch.maxExportBatchSize'], 'OTEL_BLRP_MAX_QUEUE_SIZE');
    assert.deepEqual(warnings, []);
  });
});

describe('one line per variable, however many of its entries are wrong', () => {
  const cases: [Env, string][] = [
    [
      { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'foo,http,bar,foo' },
      'OTEL_NODE_DISABLED_INSTRUMENTATIONS entries "foo", "bar" are not known instrumentations (see the README for the names); ignoring them',
    ],
    [
      { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,nope,host-metrics,nah' },
      'OTEL_NODE_ENABLED_INSTRUMENTATIONS entries "nope", "nah" are not known instrumentations (see the README for the names); ' +
        'entry "host-metrics" makes host metrics, which are the Collector\'s job (its hostmetrics receiver); ignoring them',
    ],
    [
      { OTEL_NODE_RESOURCE_DETECTORS: 'env,heroku,fly' },
      'OTEL_NODE_RESOURCE_DETECTORS entries "heroku", "fly" are not any of env, host, os, process, serviceinstance, container, alibaba, aws, azure, gcp, all, none; ignoring them',
    ],
    [
      { OTEL_NODE_UNTRACED_PATHS: 'health,/ok,ready' },
      'OTEL_NODE_UNTRACED_PATHS entries "health", "ready" do not start with /; ignoring them',
    ],
    [
      { OTEL_NODE_EXPRESS_LAYERS: 'router,handlers,mw' },
      'OTEL_NODE_EXPRESS_LAYERS entries "handlers", "mw" are not any of request_handler, router, middleware, all; ignoring them',
    ],
    [
      { OTEL_NODE_UPSTREAM_INSTRUMENTATIONS: 'koa,http,pg' },
      'OTEL_NODE_UPSTREAM_INSTRUMENTATIONS entries "koa", "pg" have no instrumentation of ours to replace (http, express, undici can); ignoring them',
    ],
    [{ OTEL_RESOURCE_ATTRIBUTES: 'bad,a=1,worse' }, 'OTEL_RESOURCE_ATTRIBUTES entries "bad", "worse" are not key=value; ignoring them'],
  ];
  for (const [env, expected] of cases) {
    const [name] = Object.keys(env);
    it(`says every bad entry of ${name} in one line`, () => {
      assert.deepEqual(enabled(env).warnings, [expected]);
    });
  }
});

describe('OTEL_NODE_RESOURCE_COMMAND_ARGS', () => {
  it('leaves the command line out of the resource by default', () => {
    const { config, sources } = enabled({});
    assert.equal(config.resourceCommandArgs, false);
    assert.equal(sources.resourceCommandArgs, 'default');
  });

  for (const [raw, expected] of [
    ['true', true],
    ['ON', true],
    ['1', true],
    ['false', false],
    ['no', false],
  ] as const) {
    it(`reads "${raw}" as ${expected}`, () => {
      const { config, warnings, sources } = enabled({ OTEL_NODE_RESOURCE_COMMAND_ARGS: raw });
      assert.equal(config.resourceCommandArgs, expected);
      assert.equal(sources.resourceCommandArgs, 'OTEL_NODE_RESOURCE_COMMAND_ARGS');
      assert.deepEqual(warnings, []);
    });
  }

  it('warns about a value that is neither and leaves the command line out', () => {
    const { config, warnings } = enabled({ OTEL_NODE_RESOURCE_COMMAND_ARGS: 'please' });
    assert.equal(config.resourceCommandArgs, false);
    assert.deepEqual(warnings, [
      'OTEL_NODE_RESOURCE_COMMAND_ARGS="please" is not one of true/1/yes/on or false/0/no/off; the command line stays out of the resource',
    ]);
  });
});

describe('sources: where each effective value came from', () => {
  it('names a source for every setting, `default` for an empty environment', () => {
    const { sources } = parseConfig({});
    assert.ok(Object.isFrozen(sources));
    assert.equal(Object.keys(sources).length, 46);
    for (const [setting, source] of Object.entries(sources)) assert.equal(source, 'default', setting);
  });

  it('does not credit OTEL_RESOURCE_ATTRIBUTES with a service name it does not hold', () => {
    const { sources } = enabled({ OTEL_RESOURCE_ATTRIBUTES: 'team=a' });
    assert.equal(sources.serviceName, 'default');
    assert.equal(sources.serviceVersion, 'default');
    assert.equal(sources.environment, 'default');
    assert.equal(sources.resourceAttributes, 'OTEL_RESOURCE_ATTRIBUTES');
  });

  it('credits OTEL_RESOURCE_ATTRIBUTES with what it holds, and the dedicated variables over it', () => {
    const attributes = 'service.name=a,service.version=1,deployment.environment.name=staging';
    assert.equal(enabled({ OTEL_RESOURCE_ATTRIBUTES: attributes }).sources.serviceName, 'OTEL_RESOURCE_ATTRIBUTES');
    const both = enabled({ OTEL_RESOURCE_ATTRIBUTES: attributes, OTEL_SERVICE_NAME: 'b', NODE_ENV: 'production' }).sources;
    assert.equal(both.serviceName, 'OTEL_SERVICE_NAME');
    assert.equal(both.serviceVersion, 'OTEL_RESOURCE_ATTRIBUTES');
    assert.equal(both.environment, 'NODE_ENV');
    assert.equal(enabled({ RUST_ENV: 'x', NODE_ENV: 'y' }).sources.environment, 'RUST_ENV');
  });

  it('names the variable a value was used from, and `default` for one it could not use', () => {
    const { sources } = enabled({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3000',
      OTEL_SAMPLING_RATE: '2',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
    });
    assert.equal(sources['traces.otlp.url'], 'OTEL_EXPORTER_OTLP_ENDPOINT');
    assert.equal(sources['metrics.otlp.url'], 'OTEL_EXPORTER_OTLP_ENDPOINT');
    assert.equal(sources['traces.otlp.timeoutMillis'], 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT');
    assert.equal(sources['metrics.otlp.timeoutMillis'], 'default');
    assert.equal(sources['traces.sampler'], 'default');
    assert.equal(sources['traces.batch.maxQueueSize'], 'OTEL_BSP_MAX_QUEUE_SIZE');
    assert.equal(sources['traces.batch.maxExportBatchSize'], 'OTEL_BSP_MAX_QUEUE_SIZE', 'clamped to the queue');
  });

  it('names both header variables when both contribute', () => {
    const only = enabled({ OTEL_EXPORTER_OTLP_HEADERS: 'a=1' }).sources;
    assert.equal(only['traces.otlp.headers'], 'OTEL_EXPORTER_OTLP_HEADERS');
    assert.equal(only['metrics.otlp.headers'], 'OTEL_EXPORTER_OTLP_HEADERS');
    const both = enabled({ OTEL_EXPORTER_OTLP_HEADERS: 'a=1', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'b=2' }).sources;
    assert.equal(both['traces.otlp.headers'], 'OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_HEADERS');
    assert.equal(enabled({ OTEL_EXPORTER_OTLP_HEADERS: 'malformed' }).sources['traces.otlp.headers'], 'default');
  });

  it('says what turned tracing on or off', () => {
    assert.equal(parseConfig({}).sources.enabled, 'default');
    assert.equal(parseConfig({ OTEL_ENABLED: 'true' }).sources.enabled, 'OTEL_ENABLED');
    assert.equal(parseConfig({ OTEL_ENABLED: 'off' }).sources.enabled, 'OTEL_ENABLED');
    assert.equal(parseConfig({ OTEL_ENABLED: 'ture' }).sources.enabled, 'default');
    assert.equal(parseConfig({ OTEL_ENABLED: 'true', OTEL_SDK_DISABLED: 'true' }).sources.enabled, 'OTEL_SDK_DISABLED');
  });

  it('names the sampler variables', () => {
    assert.equal(enabled({ OTEL_SAMPLING_RATE: '0.5' }).sources['traces.sampler'], 'OTEL_SAMPLING_RATE');
    assert.equal(enabled({ OTEL_TRACES_SAMPLER: 'always_off' }).sources['traces.sampler'], 'OTEL_TRACES_SAMPLER');
    assert.equal(
      enabled({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }).sources['traces.sampler'],
      'OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG',
    );
  });

  it('names the instrumentation lists that shaped the list', () => {
    assert.equal(enabled({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http' }).sources.instrumentations, 'OTEL_NODE_ENABLED_INSTRUMENTATIONS');
    assert.equal(enabled({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pg' }).sources.instrumentations, 'OTEL_NODE_DISABLED_INSTRUMENTATIONS');
    const runtime = enabled({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'runtime-node' }).sources;
    assert.equal(runtime.instrumentations, 'default');
    assert.equal(runtime['metrics.runtime'], 'OTEL_NODE_DISABLED_INSTRUMENTATIONS');
  });
});

describe('warnings held back while tracing is off', () => {
  it('keeps them in `silenced`, for doctor', () => {
    const { warnings, silenced } = parseConfig({ OTEL_SAMPLING_RATE: '2', OTEL_ENABLED: 'ture' });
    assert.deepEqual(warnings, ['OTEL_ENABLED="ture" is not one of true/1/yes/on or false/0/no/off; tracing stays off']);
    assert.deepEqual(silenced, ['OTEL_SAMPLING_RATE="2" is outside 0..1; using 1']);
  });

  it('holds nothing back while tracing is on', () => {
    const { warnings, silenced } = enabled({ OTEL_SAMPLING_RATE: '2' });
    assert.deepEqual(warnings, ['OTEL_SAMPLING_RATE="2" is outside 0..1; using 1']);
    assert.deepEqual(silenced, []);
  });
});

describe('environmentOf', () => {
  it('is the configured environment, else NODE_ENV as it is now (a framework command may have set it), else development', () => {
    const unset = parseConfig({}).config;
    assert.equal(environmentOf(unset, { NODE_ENV: 'production' }), 'production');
    assert.equal(environmentOf(unset, { NODE_ENV: ' ' }), 'development');
    assert.equal(environmentOf(parseConfig({ RUST_ENV: 'staging' }).config, { NODE_ENV: 'production' }), 'staging');
    assert.equal(environmentOf(parseConfig({ NODE_ENV: 'test' }).config, { NODE_ENV: 'production' }), 'test');
  });
});

describe('an unusable general endpoint beside a signal-specific one', () => {
  it('is said once, though the traces endpoint wins', () => {
    const { config, warnings } = parseConfig({
      OTEL_ENABLED: 'true',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://localhost:14317',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector:4317',
    });
    assert.equal(config.traces.otlp.url, 'http://localhost:14317');
    assert.deepEqual(warnings, [
      'OTEL_EXPORTER_OTLP_ENDPOINT="ftp://collector:4317" is not an http:// or https:// URL; using http://localhost:14317',
    ]);
  });
});

describe('empty resource attributes', () => {
  it('leave service.name, service.version and the environment unset, as an empty variable would', () => {
    const { config } = parseConfig({
      OTEL_ENABLED: 'true',
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=,service.version=,deployment.environment.name=',
    });
    assert.equal(config.serviceName, undefined);
    assert.equal(config.serviceVersion, undefined);
    assert.equal(config.environment, undefined);
  });
});
