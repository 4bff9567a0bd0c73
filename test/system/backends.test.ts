// deploy/backends/ needs Docker to run, which CI does not have; as test/system/deploy.test.ts does for
// deploy/, what can be checked without it is checked here: every file parses, each Collector uses only
// what it defines, ports and service names agree with the package's defaults, the compose files and each
// other, the service environments mean to parseConfig what the guide says they mean, and no committed
// file or printed line holds an API key.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parseEnv } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/parse.js';
import { scrubber } from '../../src/log.js';
import { ROOT } from '../helpers/app.js';
import { closedPort } from '../helpers/target.js';

const DEPLOY = join(ROOT, 'deploy');
const BACKENDS = join(DEPLOY, 'backends');
const text = (file: string) => readFileSync(join(BACKENDS, file), 'utf8');
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked field by field below.
const load = (file: string): any => parse(text(file));
const loadEnv = (file: string) => parseEnv(text(file)) as Record<string, string>;

interface Service {
  readonly command?: string[];
  readonly volumes?: string[];
  readonly ports?: string[];
  readonly environment?: Record<string, string>;
  readonly depends_on?: string[];
}
type Compose = { readonly services: Record<string, Service> };
type Pipeline = Partial<Record<'receivers' | 'processors' | 'exporters', string[]>>;
interface Collector {
  readonly receivers: Record<string, unknown>;
  readonly processors: Record<string, unknown>;
  // biome-ignore lint/suspicious/noExplicitAny: each exporter's own settings, read where the test needs them.
  readonly exporters: Record<string, any>;
  readonly service: { readonly pipelines: Record<string, Pipeline> };
}

/** The port of `host:port` or of a URL. */
const port = (endpoint: string) => Number(/:(\d+)(?:\/|$)/.exec(endpoint)?.[1]);
const hostOf = (endpoint: string) => (/^[a-z]+:\/\//.test(endpoint) ? new URL(endpoint).hostname : endpoint.replace(/:.*/s, ''));
/** [host, container] for each port a service publishes. */
const published = (service: Service) => (service.ports ?? []).map((mapping) => mapping.split(':').map(Number) as [number, number]);
/** Container path → source, for each of a service's volumes. */
const mounts = (service: Service) =>
  Object.fromEntries((service.volumes ?? []).map((volume) => volume.split(':').slice(0, 2).reverse() as [string, string]));

const defaults = {
  grpc: port(parseConfig({ OTEL_ENABLED: 'true' }).config.traces.otlp.url),
  http: port(parseConfig({ OTEL_ENABLED: 'true', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }).config.traces.otlp.url),
};

const files = readdirSync(BACKENDS, { recursive: true, encoding: 'utf8' });

it('every YAML file under deploy/backends parses without errors or warnings', () => {
  const yamlFiles = files.filter((file) => /\.ya?ml$/.test(file));
  assert.ok(yamlFiles.length >= 12, `found only ${yamlFiles.join(', ')}`);
  for (const file of yamlFiles) {
    for (const document of parseAllDocuments(text(file))) {
      assert.deepEqual([...document.errors, ...document.warnings], [], file);
    }
  }
});

// The stacks with a Collector in front: the service keeps the package's defaults and sends all three signals there.
for (const stack of ['tempo', 'zipkin', 'sampling', 'vendor']) {
  describe(`the ${stack} stack`, () => {
    const collector: Collector = load(`${stack}/otel-collector.yaml`);
    const compose: Compose = load(`${stack}/docker-compose.yml`);
    const collectorService = compose.services['otel-collector']!;

    it('has a pipeline for every signal the preload sends, each using only components the Collector defines, and all of them', () => {
      assert.deepEqual(Object.keys(collector.service.pipelines).sort(), ['logs', 'metrics', 'traces']);
      const used = { receivers: new Set<string>(), processors: new Set<string>(), exporters: new Set<string>() };
      for (const [name, pipeline] of Object.entries(collector.service.pipelines)) {
        for (const kind of ['receivers', 'processors', 'exporters'] as const) {
          for (const component of pipeline[kind] ?? []) {
            assert.ok(collector[kind]?.[component] !== undefined, `pipeline ${name} uses ${kind} ${component}, which is not defined`);
            used[kind].add(component);
          }
        }
        // The Collector's own advice: refuse data before anything else when memory runs short, batch last.
        assert.equal(pipeline.processors?.[0], 'memory_limiter', `pipeline ${name}`);
        assert.equal(pipeline.processors?.at(-1), 'batch', `pipeline ${name}`);
      }
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        assert.deepEqual(Object.keys(collector[kind]).sort(), [...used[kind]].sort(), `${kind} defined but in no pipeline`);
      }
    });

    it("listens for OTLP on the package's default ports, published on the same host ports, with the configuration it is given", () => {
      const { grpc, http } = (collector.receivers.otlp as { protocols: Record<string, { endpoint: string }> }).protocols;
      assert.deepEqual([port(grpc!.endpoint), port(http!.endpoint)], [defaults.grpc, defaults.http]);
      assert.deepEqual(published(collectorService), [
        [defaults.grpc, defaults.grpc],
        [defaults.http, defaults.http],
      ]);
      const config = collectorService.command?.find((argument) => argument.startsWith('--config='))?.slice('--config='.length);
      assert.equal(mounts(collectorService)[config ?? ''], './otel-collector.yaml');
    });

    it('exports to services of its compose file, or to an endpoint its environment brings', () => {
      for (const [name, exporter] of Object.entries(collector.exporters)) {
        const endpoint: string | undefined = exporter.endpoint;
        if (endpoint === undefined || endpoint.startsWith('0.0.0.0:')) continue;
        const fromEnv = /^\$\{env:(\w+)\}$/.exec(endpoint)?.[1];
        if (fromEnv) assert.ok(collectorService.environment?.[fromEnv] !== undefined, `${name}: ${fromEnv} is not passed to the Collector`);
        else assert.ok(compose.services[hostOf(endpoint)] !== undefined, `${name} sends to ${hostOf(endpoint)}, not a service`);
      }
    });
  });
}

describe('every compose file', () => {
  for (const file of files.filter((name) => name.endsWith('docker-compose.yml'))) {
    it(`${file} mounts files that exist, depends on services it has, and publishes each host port once`, () => {
      const compose: Compose = load(file);
      const hostPorts: number[] = [];
      for (const [name, service] of Object.entries(compose.services)) {
        for (const source of Object.values(mounts(service))) {
          assert.ok(existsSync(resolve(BACKENDS, dirname(file), source)), `${name} mounts ${source}, which does not exist`);
        }
        for (const dependency of service.depends_on ?? []) assert.ok(compose.services[dependency], `${name} depends on ${dependency}`);
        hostPorts.push(...published(service).map(([host]) => host));
      }
      assert.deepEqual(hostPorts, [...new Set(hostPorts)]);
    });
  }
});

describe('Jaeger, direct', () => {
  const compose: Compose = load('jaeger/docker-compose.yml');

  it('otel.env sends traces, and only traces, to the OTLP port the compose file publishes, with no warning', () => {
    const { config, warnings } = parseConfig(loadEnv('jaeger/otel.env'));
    assert.deepEqual(warnings, []);
    assert.equal(config.enabled, true);
    assert.deepEqual([config.traces.otlp.protocol, config.traces.otlp.url], ['grpc', 'http://localhost:4317']);
    assert.deepEqual([config.metrics.exporter, config.logs.exporter], ['none', 'none']);
    const jaeger = compose.services.jaeger!;
    assert.ok(published(jaeger).some(([host, container]) => host === port(config.traces.otlp.url) && container === defaults.grpc));
    assert.equal(jaeger.environment?.COLLECTOR_OTLP_ENABLED, 'true');
  });
});

describe('Grafana Tempo', () => {
  const collector: Collector = load('tempo/otel-collector.yaml');
  const compose: Compose = load('tempo/docker-compose.yml');
  const tempo = load('tempo/tempo.yaml');
  const datasources: { type: string; url: string }[] = load('tempo/grafana/datasources.yml').datasources;
  const grafana = mounts(compose.services.grafana!);

  it("sends traces to the port Tempo's OTLP receiver listens on, in the service that reads tempo.yaml", () => {
    const endpoint: string = collector.exporters['otlp/tempo'].endpoint;
    assert.equal(hostOf(endpoint), 'tempo');
    assert.equal(port(endpoint), port(tempo.distributor.receivers.otlp.protocols.grpc.endpoint));
    const config = compose.services.tempo?.command?.find((argument) => argument.startsWith('-config.file='))?.slice('-config.file='.length);
    assert.equal(mounts(compose.services.tempo!)[config ?? ''], './tempo.yaml');
  });

  it('exposes the metrics where deploy/prometheus.yml scrapes them, and mounts that file and its rules into Prometheus', () => {
    const prometheus = parse(readFileSync(join(DEPLOY, 'prometheus.yml'), 'utf8'));
    const targets = prometheus.scrape_configs.flatMap((job: { static_configs: { targets: string[] }[] }) =>
      job.static_configs.flatMap((config) => config.targets),
    );
    assert.deepEqual(targets, [`otel-collector:${port(collector.exporters.prometheus.endpoint)}`]);
    const prometheusMounts = mounts(compose.services.prometheus!);
    assert.equal(prometheusMounts['/etc/prometheus/prometheus.yml'], '../../prometheus.yml');
    for (const rules of prometheus.rule_files as string[]) assert.ok(prometheusMounts[`/etc/prometheus/${rules}`], rules);
  });

  it('gives Grafana data sources at the compose services and their ports, and the RED dashboard where its provider reads', () => {
    assert.deepEqual(datasources.map((source) => source.type).sort(), ['prometheus', 'tempo']);
    for (const source of datasources) assert.ok(compose.services[hostOf(source.url)], `${source.url} is not a compose service`);
    const url = (type: string) => datasources.find((source) => source.type === type)!.url;
    assert.equal(port(url('tempo')), tempo.server.http_listen_port);
    assert.ok(published(compose.services.prometheus!).some(([, container]) => container === port(url('prometheus'))));
    assert.equal(grafana['/etc/grafana/provisioning/datasources/datasources.yml'], './grafana/datasources.yml');
    const providers = grafana['/etc/grafana/provisioning/dashboards'];
    assert.equal(providers, '../../grafana/provisioning/dashboards');
    const provider = parse(readFileSync(join(BACKENDS, 'tempo', providers, 'rustok.yml'), 'utf8')).providers[0];
    assert.equal(grafana[`${provider.options.path}/rustok-red.json`], '../../../dashboards/rustok-red.json');
  });
});

describe('Zipkin', () => {
  it("posts traces to Zipkin's span API on the port its compose service publishes", () => {
    const collector: Collector = load('zipkin/otel-collector.yaml');
    const compose: Compose = load('zipkin/docker-compose.yml');
    const url = new URL(collector.exporters.zipkin.endpoint);
    assert.deepEqual([url.hostname, url.pathname], ['zipkin', '/api/v2/spans']);
    assert.deepEqual(published(compose.services.zipkin!), [[Number(url.port), Number(url.port)]]);
    assert.deepEqual(collector.service.pipelines.traces?.exporters, ['zipkin']);
  });
});

describe('sampling', () => {
  it('development.env keeps every trace and production.env one in ten, both following the caller, with no warning', () => {
    for (const [file, ratio] of [
      ['sampling/development.env', 1],
      ['sampling/production.env', 0.1],
    ] as const) {
      const { config, warnings } = parseConfig(loadEnv(file));
      assert.deepEqual(warnings, [], file);
      assert.deepEqual(config.traces.sampler, { ratio, parentBased: true }, file);
    }
  });

  it('the Collector keeps every error trace and a share of the rest, deciding on traces only, before batching', () => {
    const collector: Collector = load('sampling/otel-collector.yaml');
    const { policies } = collector.processors.tail_sampling as { policies: { type: string; [setting: string]: unknown }[] };
    assert.deepEqual(
      policies.map((policy) => policy.type),
      ['status_code', 'probabilistic'],
    );
    assert.deepEqual(policies[0]!.status_code, { status_codes: ['ERROR'] });
    const { sampling_percentage } = policies[1]!.probabilistic as { sampling_percentage: number };
    assert.ok(sampling_percentage > 0 && sampling_percentage < 100, `${sampling_percentage}`);
    for (const [name, pipeline] of Object.entries(collector.service.pipelines)) {
      assert.equal(pipeline.processors?.includes('tail_sampling'), name === 'traces', name);
    }
    assert.deepEqual(collector.service.pipelines.traces?.processors?.slice(-2), ['tail_sampling', 'batch']);
  });
});

describe('a hosted OTLP endpoint with an API key', () => {
  // Random, so that no file can hold it by accident.
  const token = randomBytes(16).toString('hex');
  const secrets: Record<string, Record<string, string>> = { 'otlp-vendor': { headers: `authorization=Bearer%20${token}` } };
  const manifest = load('vendor/kubernetes.yaml');
  type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } };
  const containerEnv: EnvVar[] = manifest.spec.template.spec.containers[0].env;
  /** The container's environment, as Kubernetes builds it from the manifest and the secret. */
  const env = Object.fromEntries(
    containerEnv.map(({ name, value, valueFrom }) => [
      name,
      value ?? secrets[valueFrom?.secretKeyRef.name ?? '']?.[valueFrom?.secretKeyRef.key ?? ''],
    ]),
  );

  it('the Deployment sends every signal over OTLP/HTTP to the endpoint, with the header from the Secret, and no warning', () => {
    const { config, warnings } = parseConfig(env);
    assert.deepEqual(warnings, []);
    for (const signal of ['traces', 'metrics', 'logs'] as const) {
      assert.deepEqual(config[signal].otlp.protocol, 'http/protobuf');
      assert.equal(config[signal].otlp.url, `https://otlp.example.com/v1/${signal}`);
      assert.deepEqual(config[signal].otlp.headers, { authorization: `Bearer ${token}` }, signal);
    }
    assert.deepEqual([config.metrics.exporter, config.logs.exporter], ['otlp', 'otlp']);
  });

  it('no committed file holds a key: headers come from a Secret or from the environment the stack starts in', () => {
    for (const { name, value } of containerEnv) assert.ok(!(name.endsWith('_HEADERS') && value !== undefined), name);
    const collector: Collector = load('vendor/otel-collector.yaml');
    const headers: Record<string, string> = collector.exporters['otlphttp/vendor'].headers;
    assert.ok(Object.keys(headers).length > 0);
    for (const header of Object.values(headers)) assert.match(header, /^[\w ]*\$\{env:\w+\}$/);
    const compose: Compose = load('vendor/docker-compose.yml');
    for (const [name, value] of Object.entries(compose.services['otel-collector']!.environment ?? {})) {
      assert.match(value, new RegExp(`^\\$\\{${name}:\\?[^}]+\\}$`), `${name} is interpolated from the shell that starts the stack`);
    }
    for (const file of files.filter((name) => /\.(env|ya?ml)$/.test(name))) {
      assert.doesNotMatch(text(file), /^[^#]*OTEL_EXPORTER_OTLP\w*_HEADERS=/m, `${file} sets a headers variable`);
    }
  });

  it('doctor shows that there is a header, never its value nor its name', async (t) => {
    const cli = join(ROOT, 'dist/cli.cjs');
    if (!existsSync(cli)) {
      // dist/ is not built, and the sources need the build's require: what doctor prints comes from
      // parseConfig and goes through the scrubber with its secrets, so check those.
      const { warnings, silenced, secrets: hidden } = parseConfig(env);
      const printed = scrubber(hidden)([...warnings, ...silenced, `Bearer ${token}`, `authorization=Bearer%20${token}`].join('\n'));
      assert.ok(!printed.includes(token), printed);
      t.diagnostic('dist/cli.cjs is not built: checked parseConfig and the scrubber instead of doctor');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'rustok-backends-'));
    // The same headers, to a local port where nothing listens: what is checked is what doctor prints, not the vendor.
    // Not NODE_OPTIONS: it would preload the package in a directory that has none.
    const doctorEnv = {
      ...Object.fromEntries(Object.entries(env).filter(([name]) => name !== 'NODE_OPTIONS')),
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
      OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
    };
    // Synchronous, so no test timeout could end a doctor that hangs: its own bound kills it.
    const doctor = (args: string[]) => {
      const result = spawnSync(process.execPath, [cli, 'doctor', ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH, FORCE_COLOR: '0', ...doctorEnv },
        encoding: 'utf8',
        timeout: 60_000,
      });
      // 1: the test export found nothing listening, as intended.
      assert.equal(result.status, 1, `doctor exited ${result.status ?? result.signal}: ${result.stdout}${result.stderr}`);
      return result.stdout + result.stderr;
    };
    try {
      const plain = doctor([]);
      const json = doctor(['--json']);
      assert.match(plain, /^ {2}headers +1 header \(hidden\) +OTEL_EXPORTER_OTLP_HEADERS$/m);
      assert.match(json, /"value": ?"1 header \(hidden\)"/);
      for (const output of [plain, json]) {
        assert.ok(!output.includes(token), 'the key is printed');
        assert.ok(!output.toLowerCase().includes('authorization'), 'the header name is printed');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the guide', () => {
  const guide = readFileSync(join(ROOT, 'docs/OPENTELEMETRY_INTEGRATION.md'), 'utf8');
  const section = (heading: string) => {
    const start = guide.indexOf(`\n## ${heading}\n`);
    assert.ok(start !== -1, `no section ${heading}`);
    const end = guide.indexOf('\n## ', start + 1);
    return guide.slice(start, end === -1 ? undefined : end);
  };
  const sections = ['Visualization backends', 'Best practices'];
  const deployFiles = readdirSync(DEPLOY, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.(ya?ml|env)$/.test(file))
    .map((file) => readFileSync(join(DEPLOY, file), 'utf8'));

  for (const heading of sections) {
    it(`every YAML and env sample in "${heading}" is cut from a file under deploy/`, () => {
      const samples = section(heading).match(/(?<=```(?:yaml|dotenv)\n)[\s\S]*?(?=```)/g) ?? [];
      assert.ok(samples.length >= 2, `only ${samples.length} samples`);
      for (const sample of samples) {
        assert.ok(
          deployFiles.some((file) => file.includes(sample)),
          `not in deploy/:\n${sample}`,
        );
      }
    });

    it(`every relative link in "${heading}" leads to a file that exists`, () => {
      const links = [...section(heading).matchAll(/\]\((?!https?:|#)([^)#]+)[^)]*\)/g)].map((match) => match[1]!);
      assert.ok(links.length > 0);
      for (const link of links) assert.ok(existsSync(resolve(ROOT, 'docs', link)), link);
    });
  }
});
