// `rustok-otel dev`: a local OTLP receiver that prints each finished trace as a waterfall, instead of
// Docker, a Collector and Jaeger on a developer's machine.
import { appendFileSync } from 'node:fs';
import { type ReceivedLog, type ReceivedSpan, startReceiver } from '../receiver/otlp-receiver.js';
import { jsonValue, renderLog, renderTrace, TraceAssembler } from './waterfall.js';

export interface DevOptions {
  readonly grpcPort: number;
  readonly httpPort: number;
  /**
   * Appends one JSON line per trace to this file as well (with `logs` when it has log records), and one
   * per log record printed on a line of its own (`{ traceId?, service, log }`).
   */
  readonly jsonFile?: string;
  readonly colour: boolean;
  readonly print: (text: string) => void;
}

export interface DevServer {
  readonly grpcUrl: string;
  readonly httpUrl: string;
  close(): Promise<void>;
}

export async function startDev(options: DevOptions): Promise<DevServer> {
  let rejections = 0;
  const receiver = await startReceiver({
    grpcPort: options.grpcPort,
    httpPort: options.httpPort,
    retain: false,
    onRejected(reason) {
      // Once is enough to explain it; a misconfigured exporter sends one every few seconds.
      if (rejections++ === 0) {
        options.print(
          `rustok-otel dev: rejected a request that is ${reason}; this receiver speaks OTLP over gRPC and HTTP/protobuf, not HTTP/JSON\n`,
        );
      }
    },
  });
  let jsonFile = options.jsonFile;
  const writeJson = (value: unknown) => {
    if (!jsonFile) return;
    try {
      appendFileSync(jsonFile, `${JSON.stringify(value)}\n`);
    } catch (error) {
      options.print(`rustok-otel dev: cannot write to ${jsonFile} (${error instanceof Error ? error.message : error}); printing only\n`);
      jsonFile = undefined;
    }
  };
  // The file first: whoever sees a trace printed finds it in the file too.
  const assembler = new TraceAssembler(
    (spans, logs) => {
      writeJson(toJson(spans, logs));
      options.print(`${renderTrace(spans, { colour: options.colour }, logs)}\n`);
    },
    {
      onLog(log) {
        writeJson({ traceId: log.traceId || undefined, service: log.resource['service.name'], log: logJson(log) });
        options.print(renderLog(log, { colour: options.colour }));
      },
    },
  );
  receiver.onSpans((batch) => assembler.add(batch));
  receiver.onLogs((batch) => assembler.addLogs(batch));
  return {
    grpcUrl: receiver.grpcUrl,
    httpUrl: receiver.httpUrl,
    async close() {
      assembler.close();
      await receiver.close();
    },
  };
}

function toJson(spans: readonly ReceivedSpan[], logs: readonly ReceivedLog[]) {
  return {
    traceId: spans[0]?.traceId ?? logs[0]?.traceId,
    service: spans[0]?.resource['service.name'] ?? logs[0]?.resource['service.name'],
    spans: spans.map((span) => ({
      spanId: span.spanId,
      parentSpanId: span.parentSpanId || undefined,
      name: span.name,
      kind: span.kind,
      startUnixNano: String(span.startNanos),
      durationMs: Number(span.endNanos - span.startNanos) / 1e6,
      status: span.status,
      attributes: jsonValue(span.attributes),
      events: span.events,
      links: span.links,
    })),
    ...(logs.length > 0 && { logs: logs.map(logJson) }),
  };
}

function logJson(log: ReceivedLog) {
  return {
    spanId: log.spanId || undefined,
    timeUnixNano: String(log.timeNanos),
    observedUnixNano: String(log.observedNanos),
    severityNumber: log.severityNumber,
    severityText: log.severityText || undefined,
    body: jsonValue(log.body),
    attributes: jsonValue(log.attributes),
    eventName: log.eventName || undefined,
    scope: log.scope,
  };
}
