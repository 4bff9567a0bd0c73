// Loading the instrumentations that apply, one package each: the auto-instrumentations-node index
// requires all ~40 at once, which costs hundreds of ms at start.
import { isBuiltin } from 'node:module';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { loadOnDemand } from '../bundle/on-demand.js';
import { sayOnce } from '../log.js';
import { type InstrumentationEntry, packageOf } from './catalogue.js';
import { onFirstRequire } from './module-hooks.js';

export interface LoadedInstrumentations {
  /** Every instrumentation that applies, loaded now or armed to load with its module. */
  readonly names: string[];
  readonly failures: string[];
}

/**
 * Constructs the instrumentations that apply and hands them to `enable`. With `onDemand`, one whose
 * modules are packages is loaded only when the app first requires one of them: an app that has pg
 * installed but requires it late, or never, does not pay for its instrumentation at start.
 */
export function loadInstrumentations(
  entries: readonly InstrumentationEntry[],
  onDemand: boolean,
  /** Our own instrumentation in place of the package's, where there is one in use. */
  ours: (name: string) => Instrumentation | undefined,
  configFor: (name: string) => object,
  /** Adjusts an instrumentation once constructed, before its module is patched. */
  prepare: (name: string, instrumentation: Instrumentation) => void,
  enable: (instances: Instrumentation[]) => void,
): LoadedInstrumentations {
  const failures: string[] = [];
  const failed = new Set<InstrumentationEntry>();
  const load = (entry: InstrumentationEntry): Instrumentation | undefined => {
    try {
      const instrumentation = ours(entry.name) ?? upstream(entry);
      prepare(entry.name, instrumentation);
      return instrumentation;
    } catch (error) {
      failed.add(entry);
      failures.push(`${entry.name} (${(error as Error).message.split('\n')[0]})`);
      return undefined;
    }
  };
  const upstream = (entry: InstrumentationEntry) => {
    const Constructor = loadOnDemand(packageOf(entry))[entry.exportName] as new (config: object) => Instrumentation;
    return new Constructor(configFor(entry.name));
  };
  const later = onDemand ? entries.filter((entry) => entry.modules.length > 0 && !entry.modules.some((id) => isBuiltin(id))) : [];
  if (later.length > 0) {
    onFirstRequire(later, (entry) => {
      const instance = load(entry);
      if (instance) enable([instance]);
      else sayOnce(`instrumentation ${failures.at(-1)} could not be loaded; its spans are missing`);
    });
  }
  const now = entries.filter((entry) => !later.includes(entry)).flatMap((entry) => load(entry) ?? []);
  enable(now);
  const names = entries.filter((entry) => !failed.has(entry)).map((entry) => entry.name);
  return { names, failures };
}
