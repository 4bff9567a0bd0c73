// pino's log sending, made lean. The pino instrumentation puts a multistream in front of each logger:
// the app's own stream, and a stream that parses every line back into an object and hands it to the
// logger provider, inside the logging call. Here that second stream is replaced by one that hands
// over the line as it is, with its level and active span: the parsing happens in the export thread
// (src/export/log-record.ts, fromPinoLine). The multistream also gets the `flush` it lacks, so
// `logger.flush(cb)` still flushes the app's `pino.destination()` or transport before `cb`.
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { PinoFormat } from '../export/log-record.js';

/** Given how a logger writes, where each of its lines goes, with pino's level number, while the logging call runs. */
export type PinoLineSink = (format: PinoFormat, levelNames: Readonly<Record<number, string>>) => (line: string, level: number) => void;

interface Entry {
  readonly level?: number;
  readonly stream?: {
    flush?: (callback: (error?: Error) => void) => void;
    /** What the instrumentation's own stream knows of its logger. */
    readonly _messageKey?: string;
    readonly _errorKey?: string;
    readonly _levels?: { readonly labels?: Record<number, string> };
    readonly _otelTimestampFromTime?: (time: unknown) => number;
  };
}
type Multistream = (streams: readonly Entry[], options?: unknown) => { flush?: unknown };
type ModuleDefinition = { patch?: (exports: unknown, version?: string) => unknown };

const LEAN = Symbol('@rustok/otel.leanPinoSending');
const METADATA = Symbol.for('pino.metadata');

/** Makes the pino instrumentation's log sending hand each line to `sink`. */
export function sendPinoLines(instrumentation: Instrumentation, sink: PinoLineSink): void {
  const modules = (instrumentation as unknown as { _modules?: ModuleDefinition[] })._modules ?? [];
  for (const definition of modules) {
    const patch = definition.patch;
    if (!patch) continue;
    definition.patch = function (this: unknown, exports, version) {
      const isModule = (exports as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Module';
      const pino = (isModule ? (exports as { default?: unknown }).default : exports) as { multistream?: Multistream } | undefined;
      if (typeof pino?.multistream === 'function' && !(LEAN in pino.multistream)) pino.multistream = lean(pino.multistream, sink);
      return Reflect.apply(patch, this, [exports, version]);
    };
  }
}

function lean(multistream: Multistream, sink: PinoLineSink): Multistream {
  return Object.assign(
    function (this: unknown, streams: readonly Entry[], options?: unknown) {
      const [app, otel] = streams ?? [];
      // Only the multistream log sending builds: the app's stream first, OpenTelemetry's second.
      if (streams?.length !== 2 || otel?.stream?.constructor?.name !== 'OTelPinoStream') {
        return Reflect.apply(multistream, this, [streams, options]);
      }
      const send = sink(formatOf(otel.stream), otel.stream._levels?.labels ?? {});
      // What pino and its multistream call on a stream: `write`, and `end` and `flushSync` when it ends.
      const sending = {
        [METADATA]: true,
        lastLevel: 0,
        write(line: string) {
          send(line, this.lastLevel);
        },
        end() {},
        flushSync() {},
      };
      const result = Reflect.apply(multistream, this, [[app, { ...otel, stream: sending }], options]) as ReturnType<Multistream>;
      const appStream = app?.stream;
      if (typeof result?.flush !== 'function') {
        result.flush = (callback: (error?: Error) => void) =>
          typeof appStream?.flush === 'function' ? appStream.flush(callback) : callback();
      }
      return result;
    },
    { [LEAN]: true },
  );
}

/** The keys and the time format of the logger, as the instrumentation's stream was told them. */
function formatOf(stream: NonNullable<Entry['stream']>): PinoFormat {
  const convert = stream._otelTimestampFromTime;
  // ISO first: its converter turns a number into itself as well.
  const time =
    typeof convert !== 'function'
      ? 'other'
      : convert('1970-01-01T00:00:01.234Z') === 1234
        ? 'iso'
        : convert(1234) === 1234
          ? 'ms'
          : convert(1234) === 1_234_000
            ? 's'
            : 'other';
  return { messageKey: stream._messageKey ?? 'msg', errorKey: stream._errorKey ?? 'err', time };
}
