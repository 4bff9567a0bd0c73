// `rustok-otel dev`: a local OTLP receiver that prints each finished trace as a waterfall, instead of
// Docker, a Collector and Jaeger on a developer's machine.
import { appendFileSync } from 'node:fs';
import { type ReceivedSpan, startReceiver } from '../receiver/otlp-receiver.js';
import { renderTrace, TraceAssembler } from './waterfall.js';

export interface DevOptions {
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Appends one JSON line per trace to this file as well. */
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
  // The file first: whoever sees a trace printed finds it in the file too.
  const assembler = new TraceAssembler((spans) => {
    if (jsonFile) {
      try {
        appendFileSync(jsonFile, `${JSON.stringify(toJson(spans))}\n`);
      } catch (error) {
        options.print(`rustok-otel dev: cannot write to ${jsonFile} (${error instanceof Error ? error.message : error}); printing only\n`);
        jsonFile = undefined;
      }
    }
    options.print(`${renderTrace(spans, { colour: options.colour })}\n`);
  });
  receiver.onSpans((batch) => assembler.add(batch));
  return {
    grpcUrl: receiver.grpcUrl,
    httpUrl: receiver.httpUrl,
    async close() {
      assembler.close();
      await receiver.close();
    },
  };
}

function toJson(spans: readonly ReceivedSpan[]) {
  return {
    traceId: spans[0]?.traceId,
    service: spans[0]?.resource['service.name'],
    spans: spans.map((span) => ({
      spanId: span.spanId,
      parentSpanId: span.parentSpanId || undefined,
      name: span.name,
      kind: span.kind,
      startUnixNano: String(span.startNanos),
      durationMs: Number(span.endNanos - span.startNanos) / 1e6,
      status: span.status,
      attributes: span.attributes,
      events: span.events,
      links: span.links,
    })),
  };
}
