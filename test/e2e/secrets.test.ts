// No credential written into the configuration is ever printed: every way a user really writes one
// (right or wrong), every output (the app's stderr and stdout under the preload, `rustok-otel doctor`
// and its JSON), with the collector down and up, with and without OTEL_LOG_LEVEL=debug.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DoctorReport } from '../../src/cli/doctor.js';
import { APP_DIR, startApp } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import { closedPort } from '../helpers/target.js';

const fixture = useFixture();
const BIN = join(APP_DIR, 'node_modules/.bin/rustok-otel');

type Env = Record<string, string | undefined>;
type Protocol = 'grpc' | 'http/protobuf';

interface SecretCase {
  readonly label: string;
  readonly protocol: Protocol;
  /** `collector`: http://127.0.0.1:<port> of a live receiver, or of a port where nothing listens. */
  readonly env: (collector: string) => Env;
  /** Each must appear in no output, in any case (gRPC metadata keys are lower-cased, for one). */
  readonly secrets: readonly string[];
}

const host = (collector: string) => collector.replace('http://', '');

const CASES: readonly SecretCase[] = [
  {
    label: 'a header written with ":" instead of "=" (gRPC)',
    protocol: 'grpc',
    env: () => ({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization: Basic dXNlcjpwYXNzMDE==' }),
    secrets: ['dXNlcjpwYXNzMDE'],
  },
  {
    label: 'a header written with ":" instead of "=" (HTTP)',
    protocol: 'http/protobuf',
    env: () => ({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization: Basic dXNlcjpwYXNzMDI==' }),
    secrets: ['dXNlcjpwYXNzMDI'],
  },
  {
    label: 'headers with spaces, around the = and inside the name',
    protocol: 'http/protobuf',
    env: () => ({ OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key = Sp4ceKey03 , Api Sp4ceName=Sp4ceKey04,authorization=Bearer Sp4ceTok05' }),
    secrets: ['Sp4ceKey03', 'Sp4ceName', 'Sp4ceKey04', 'Sp4ceTok05'],
  },
  {
    label: 'a header name with a character no header name has',
    protocol: 'grpc',
    env: () => ({ OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key(Badch4rName06)=Badch4rVal07' }),
    secrets: ['Badch4rName06', 'Badch4rVal07'],
  },
  {
    label: 'a value with a comma, split into two entries',
    protocol: 'http/protobuf',
    env: () => ({ OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer C0mmaHead08,C0mmaTail09==' }),
    secrets: ['C0mmaHead08', 'C0mmaTail09'],
  },
  {
    label: 'a value that is not valid percent-encoding',
    protocol: 'grpc',
    env: () => ({ OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=Perc3nt10%ZZ%' }),
    secrets: ['Perc3nt10'],
  },
  {
    label: 'an endpoint with user and password',
    protocol: 'http/protobuf',
    env: (collector) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://Us3rName11:Pa55word12@${host(collector)}` }),
    secrets: ['Us3rName11', 'Pa55word12'],
  },
  {
    label: 'an endpoint with ?api_key=',
    protocol: 'http/protobuf',
    env: (collector) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: `${collector}/?api_key=Qu3ryKey13` }),
    secrets: ['Qu3ryKey13'],
  },
  {
    label: 'an endpoint with a #fragment',
    protocol: 'grpc',
    env: (collector) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: `${collector}#Fr4gment14` }),
    secrets: ['Fr4gment14'],
  },
  {
    label: 'an endpoint that does not parse, with the secret in it',
    protocol: 'grpc',
    env: (collector) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://Unp4rsed15@${host(collector).replace(/\d+$/, '43i7')}/?token=Unp4rsed16` }),
    secrets: ['Unp4rsed15', 'Unp4rsed16'],
  },
  {
    label: 'the signal-specific endpoints',
    protocol: 'http/protobuf',
    env: (collector) => ({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://Tr4ceUser17:Tr4cePass18@${host(collector)}/v1/traces?token=Tr4ceQuery19`,
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${collector}/v1/metrics?token=M3tricQuery20#M3tricFrag21`,
    }),
    secrets: ['Tr4ceUser17', 'Tr4cePass18', 'Tr4ceQuery19', 'M3tricQuery20', 'M3tricFrag21'],
  },
  {
    label: 'the signal-specific header variables',
    protocol: 'grpc',
    env: () => ({
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'Authorization: Bearer Tr4ceHdr22',
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'api-key=M3tricHdr23,M3tricBad24',
    }),
    secrets: ['Tr4ceHdr22', 'M3tricHdr23', 'M3tricBad24'],
  },
  {
    label: 'well-formed headers, names included',
    protocol: 'grpc',
    env: () => ({ OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant-N4me25=F1neKey26,x-honeycomb-team=F1neKey27' }),
    secrets: ['N4me25', 'F1neKey26', 'F1neKey27', 'x-honeycomb-team'],
  },
];

interface Output {
  readonly name: string;
  readonly text: string;
}

/** The app under the preload and both forms of doctor, against `collector`. */
async function outputs(entry: SecretCase, collector: string, logLevel: string | undefined): Promise<Output[]> {
  const env: Env = {
    OTEL_EXPORTER_OTLP_PROTOCOL: entry.protocol,
    OTEL_EXPORTER_OTLP_ENDPOINT: collector,
    OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
    OTEL_LOG_LEVEL: logLevel,
    ...entry.env(collector),
  };
  const app = startApp('script.cjs', { env: { ...env, TARGET_URL: fixture.target.url } });
  const doctorText = startApp(BIN, { preload: 'none', args: ['doctor'], env });
  const doctorJson = startApp(BIN, { preload: 'none', args: ['doctor', '--json'], env });
  const [appExit] = await Promise.all([app.exited, doctorText.exited, doctorJson.exited]);
  assert.deepEqual(appExit, { code: 0, signal: null }, app.stderr());
  assert.match(app.stdout(), /script done/);
  const report: DoctorReport = JSON.parse(doctorJson.stdout());
  assert.equal(typeof report.healthy, 'boolean');
  return [
    { name: 'app stderr', text: app.stderr() },
    { name: 'app stdout', text: app.stdout() },
    { name: 'doctor', text: doctorText.stdout() + doctorText.stderr() },
    { name: 'doctor --json', text: doctorJson.stdout() + doctorJson.stderr() },
  ];
}

describe('no credential is ever printed', () => {
  for (const entry of CASES) {
    it(`prints nothing of ${entry.label}`, { timeout: 60_000 }, async (t) => {
      const down = `http://127.0.0.1:${await closedPort()}`;
      const up = (entry.protocol === 'grpc' ? fixture.receiver.grpcUrl : fixture.receiver.httpUrl).replace('localhost', '127.0.0.1');
      const runs = await Promise.all(
        [
          ['collector down', down],
          ['collector up', up],
        ].flatMap(([state = '', collector = '']) =>
          [undefined, 'debug'].map(async (logLevel) => ({
            run: `${state}${logLevel ? ', OTEL_LOG_LEVEL=debug' : ''}`,
            outputs: await outputs(entry, collector, logLevel),
          })),
        ),
      );
      const leaks = runs.flatMap(({ run, outputs }) =>
        outputs.flatMap(({ name, text }) =>
          entry.secrets
            .filter((secret) => text.toLowerCase().includes(secret.toLowerCase()))
            .map((secret) => `${run}, ${name} prints ${secret}:\n${text}`),
        ),
      );
      for (const { run, outputs } of runs) {
        const leaked = outputs.map(
          ({ name, text }) => `${name}: ${entry.secrets.filter((s) => text.toLowerCase().includes(s.toLowerCase())).length}`,
        );
        t.diagnostic(`${run}: secrets printed by ${leaked.join(', ')}`);
      }
      assert.deepEqual(leaks, []);
    });
  }
});

describe('a presigned URL in a span', () => {
  it('has its signature redacted, whether the app calls it with http or with fetch', async () => {
    const service = 'presigned-url';
    const app = startApp(
      `const url = process.env.TARGET_URL + '/report.pdf?X-Amz-Signature=S1gnatur3&page=2';
       require('node:http').get(url, (response) => response.resume().on('end', () => fetch(url).then((r) => r.text())));`,
      {
        receiver: fixture.receiver,
        preload: 'none',
        nodeArgs: ['--require=@rustok/otel/register', '-e'],
        env: { OTEL_SERVICE_NAME: service, TARGET_URL: fixture.target.url },
      },
    );
    assert.deepEqual(await app.exited, { code: 0, signal: null }, app.stderr());
    const spans = (
      await fixture.receiver.waitFor((all) => all.filter((span) => span.resource['service.name'] === service).length >= 2)
    ).filter((span) => span.resource['service.name'] === service);
    assert.deepEqual(spans.map((span) => span.attributes['url.full']).sort(), [
      `${fixture.target.url}/report.pdf?X-Amz-Signature=REDACTED&page=2`,
      `${fixture.target.url}/report.pdf?X-Amz-Signature=REDACTED&page=2`,
    ]);
    assert.ok(!JSON.stringify(spans.map((span) => span.attributes)).includes('S1gnatur3'), 'the signature is in no attribute');
  });
});

describe('the command line in the resource', () => {
  for (const optIn of [false, true]) {
    it(`is ${optIn ? 'there with OTEL_NODE_RESOURCE_COMMAND_ARGS=true' : 'left out by default, process.command kept'}, on spans and metrics alike`, async () => {
      const service = `command-args-${optIn}`;
      const app = startApp('script.cjs', {
        receiver: fixture.receiver,
        args: ['--db-password=Cmd1ineS3cret'],
        env: { OTEL_SERVICE_NAME: service, TARGET_URL: fixture.target.url, OTEL_NODE_RESOURCE_COMMAND_ARGS: optIn ? 'true' : undefined },
      });
      assert.deepEqual(await app.exited, { code: 0, signal: null }, app.stderr());
      const spans = await fixture.receiver.waitFor((all) => all.some((span) => span.resource['service.name'] === service));
      await fixture.receiver.waitForMetrics((all) => all.some((metric) => metric.resource['service.name'] === service));
      const resources = [
        ...spans.filter((span) => span.resource['service.name'] === service).map((span) => span.resource),
        ...fixture.receiver.metrics.filter((metric) => metric.resource['service.name'] === service).map((metric) => metric.resource),
      ];
      for (const resource of resources) {
        assert.match(String(resource['process.command']), /script\.cjs$/);
        assert.ok(resource['process.executable.path']);
        if (optIn) assert.ok(JSON.stringify(resource['process.command_args']).includes('--db-password=Cmd1ineS3cret'));
        else assert.ok(!JSON.stringify(resource).includes('Cmd1ineS3cret'), JSON.stringify(resource));
      }
    });
  }
});

describe('a header entry the configuration sets aside', () => {
  for (const protocol of ['grpc', 'http/protobuf'] as const) {
    it(`costs only that header over ${protocol}: the exporters never see it, and the spans arrive`, async () => {
      const service = `set-aside-header-${protocol.replace('/', '-')}`;
      const app = startApp('script.cjs', {
        receiver: fixture.receiver,
        protocol,
        env: {
          OTEL_SERVICE_NAME: service,
          OTEL_EXPORTER_OTLP_HEADERS: 'Authorization: Basic dXNlcjpwYXNzMTA==,x-team=shop',
          TARGET_URL: fixture.target.url,
        },
      });
      assert.deepEqual(await app.exited, { code: 0, signal: null }, app.stderr());
      await fixture.receiver.waitFor((all) => all.filter((span) => span.resource['service.name'] === service).length === 3, 5000);
      assert.doesNotMatch(app.stderr(), /cannot (load|export)/);
    });
  }
});
