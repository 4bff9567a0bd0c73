// deploy/ needs Docker to run, which CI does not have; what can be checked without it is checked here:
// every file parses, the Collector's pipelines use only what it defines, the ports agree with the
// package's defaults and with each other, and Prometheus accepts its configuration and rules.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/parse.js';
import { ROOT } from '../helpers/app.js';
import { PROMTOOL } from '../helpers/services.js';

const DEPLOY = join(ROOT, 'deploy');
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked field by field below.
const load = (file: string): any => parse(readFileSync(join(DEPLOY, file), 'utf8'));
const collector = load('otel-collector.yaml');
const compose = load('docker-compose.yml');
const prometheus = load('prometheus.yml');

const port = (endpoint: string) => Number(endpoint.split(':').at(-1));
const published = (service: string) =>
  (compose.services[service].ports as string[]).map((mapping) => mapping.split(':').map(Number) as [number, number]);

describe('the Collector configuration', () => {
  it('uses in each pipeline only receivers, processors and exporters it defines', () => {
    for (const [name, pipeline] of Object.entries<Record<string, string[]>>(collector.service.pipelines)) {
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        for (const component of pipeline[kind] ?? []) {
          assert.ok(collector[kind]?.[component] !== undefined, `pipeline ${name} uses ${kind} ${component}, which is not defined`);
        }
      }
    }
    for (const extension of collector.service.extensions) assert.ok(collector.extensions[extension] !== undefined);
    assert.deepEqual(Object.keys(collector.service.pipelines).sort(), ['logs', 'metrics', 'traces']);
  });

  it('listens for OTLP where the package exports by default, over both protocols', () => {
    const grpc = parseConfig({ OTEL_ENABLED: 'true' }).config.traces.otlp;
    const http = parseConfig({ OTEL_ENABLED: 'true', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }).config.traces.otlp;
    assert.equal(port(collector.receivers.otlp.protocols.grpc.endpoint), Number(new URL(grpc.url).port));
    assert.equal(port(collector.receivers.otlp.protocols.http.endpoint), Number(new URL(http.url).port));
    // And the compose file publishes them on the same host ports, so the default endpoint reaches it.
    assert.deepEqual(published('otel-collector'), [
      [4317, 4317],
      [4318, 4318],
    ]);
  });

  it('sends traces to the Jaeger service of the compose file, and metrics to what Prometheus scrapes', () => {
    const [host] = collector.exporters['otlp/jaeger'].endpoint.split(':');
    assert.ok(compose.services[host] !== undefined, `the compose file has a ${host} service`);
    const scraped = prometheus.scrape_configs.flatMap((job: { static_configs: { targets: string[] }[] }) =>
      job.static_configs.flatMap((config) => config.targets),
    );
    assert.deepEqual(scraped, [`otel-collector:${port(collector.exporters.prometheus.endpoint)}`]);
  });
});

describe('the compose file', () => {
  it('mounts files that exist', () => {
    for (const [name, service] of Object.entries<{ volumes?: string[] }>(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = resolve(DEPLOY, volume.split(':')[0] ?? '');
        assert.ok(existsSync(source), `${name} mounts ${source}, which does not exist`);
      }
    }
  });

  it('gives Prometheus the alert rules its configuration names, and Grafana the dashboard its provider reads', () => {
    const mounts = (service: string) =>
      Object.fromEntries((compose.services[service].volumes as string[]).map((volume) => volume.split(':').slice(0, 2).reverse()));
    const prometheusMounts = mounts('prometheus');
    for (const rules of prometheus.rule_files as string[]) assert.ok(prometheusMounts[`/etc/prometheus/${rules}`]);
    const provider = parse(readFileSync(join(DEPLOY, 'grafana/provisioning/dashboards/rustok.yml'), 'utf8')).providers[0];
    const grafanaMounts = mounts('grafana');
    assert.equal(grafanaMounts[`${provider.options.path}/rustok-red.json`], '../dashboards/rustok-red.json');
    const datasources = parse(readFileSync(join(DEPLOY, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8')).datasources;
    assert.equal(datasources.find((source: { type: string }) => source.type === 'prometheus').url, 'http://prometheus:9090');
  });
});

it('Prometheus accepts the configuration and its rules (promtool)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rustok-deploy-'));
  try {
    copyFileSync(join(DEPLOY, 'prometheus.yml'), join(dir, 'prometheus.yml'));
    copyFileSync(join(ROOT, 'dashboards/rustok-alerts.yml'), join(dir, 'rustok-alerts.yml'));
    // Synchronous, so no test timeout could end a promtool that hangs: its own bound kills it.
    const result = spawnSync(PROMTOOL, ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(
      result.status,
      0,
      `promtool exited ${result.status ?? result.signal ?? result.error?.message}:\n${result.stdout}${result.stderr}`,
    );
    assert.match(result.stdout, /SUCCESS: 3 rules found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
