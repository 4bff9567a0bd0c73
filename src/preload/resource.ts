// Who is sending the spans: the app's name and version (from its own package.json unless set), the
// environment, and what the local detectors find. Cloud detectors probe the network, so they are opt-in;
// so is the command line, which rides on every span and in Prometheus' target_info and often carries
// secrets (`--db-password=…`): OTEL_NODE_RESOURCE_COMMAND_ARGS=true.
import type { Resource, ResourceDetectionConfig, ResourceDetector } from '@opentelemetry/resources';
import { build } from '../bundle/build-info.js';
import { loadOnDemand } from '../bundle/on-demand.js';
import { environmentOf } from '../config/parse.js';
import type { Config } from '../config/types.js';
import { type AppPackage, serviceIdentity } from './app-package.js';

/** The processDetector's attributes without `process.command_args`; `process.command` and `process.executable.*` stay. */
class ProcessDetector implements ResourceDetector {
  readonly #detector: ResourceDetector;

  constructor(detector: ResourceDetector) {
    this.#detector = detector;
  }

  detect(config?: ResourceDetectionConfig) {
    const { 'process.command_args': _, ...attributes } = this.#detector.detect(config).attributes ?? {};
    return { attributes };
  }
}

function detectorsFor(names: readonly string[], commandArgs: boolean): ResourceDetector[] {
  const resources: typeof import('@opentelemetry/resources') = require('@opentelemetry/resources');
  const cloud = (name: `@opentelemetry/${string}`, ...exports: string[]): ResourceDetector[] => {
    const detectors = loadOnDemand(name);
    return exports.map((name) => detectors[name] as ResourceDetector);
  };
  const byName: Record<string, () => ResourceDetector[]> = {
    host: () => [resources.hostDetector],
    os: () => [resources.osDetector],
    process: () => [commandArgs ? resources.processDetector : new ProcessDetector(resources.processDetector)],
    serviceinstance: () => [resources.serviceInstanceIdDetector],
    container: () => cloud('@opentelemetry/resource-detector-container', 'containerDetector'),
    alibaba: () => cloud('@opentelemetry/resource-detector-alibaba-cloud', 'alibabaCloudEcsDetector'),
    aws: () =>
      cloud(
        '@opentelemetry/resource-detector-aws',
        'awsEc2Detector',
        'awsEcsDetector',
        'awsEksDetector',
        'awsBeanstalkDetector',
        'awsLambdaDetector',
      ),
    azure: () => cloud('@opentelemetry/resource-detector-azure', 'azureAppServiceDetector', 'azureFunctionsDetector', 'azureVmDetector'),
    gcp: () => cloud('@opentelemetry/resource-detector-gcp', 'gcpDetector'),
  };
  return names.flatMap((name) => byName[name]?.() ?? []);
}

export function createResource(config: Config, app: AppPackage): Resource {
  const {
    defaultResource,
    detectResources,
    resourceFromAttributes,
  }: typeof import('@opentelemetry/resources') = require('@opentelemetry/resources');
  const service = serviceIdentity(config, app);
  const fromEnv = config.resourceDetectors.includes('env') ? config.resourceAttributes : {};
  return defaultResource()
    .merge(detectResources({ detectors: detectorsFor(config.resourceDetectors, config.resourceCommandArgs) }))
    .merge(resourceFromAttributes(fromEnv))
    .merge(
      resourceFromAttributes({
        'service.name': service.name,
        ...(service.version ? { 'service.version': service.version } : {}),
        'deployment.environment.name': environmentOf(config),
        'telemetry.distro.name': '@rustok/otel',
        'telemetry.distro.version': build?.version ?? '0.0.0',
      }),
    );
}

/**
 * The attributes as they leave for the collector, with the first span or metrics export: what the app's
 * command may have changed since the start (NODE_ENV, set by `next start`) is read again here.
 */
export function attributesAsSent(resource: Resource, config: Config): Record<string, unknown> {
  return { ...resource.attributes, 'deployment.environment.name': environmentOf(config) };
}
