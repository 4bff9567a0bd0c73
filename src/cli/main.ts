// The `rustok-otel` command: `doctor` checks a service's set-up, `dev` shows its traces locally.
import { parseArgs } from 'node:util';
import { reason } from '../log.js';
import { startDev } from './dev.js';
import { doctor, formatReport } from './doctor.js';

const USAGE = `Usage:
  rustok-otel doctor [--json]
      Run in the app's directory, with the app's environment: prints the configuration and where each
      value came from, the instrumentations that will load, known traps, and sends one test span.
      Exits 0 when healthy, 1 otherwise.
  rustok-otel dev [--grpc-port 4317] [--http-port 4318] [--json-file traces.jsonl]
      A local OTLP receiver that prints each trace as a waterfall, with its log records. Point the
      app at it with OTEL_ENABLED=true node --import @rustok/otel/register app.js
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'doctor') {
    const { values } = parseArgs({ args: [...rest], options: { json: { type: 'boolean', default: false } } });
    const report = await doctor(process.env, process.cwd());
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, process.stdout.isTTY === true));
    return report.healthy ? 0 : 1;
  }
  if (command === 'dev') {
    const { values } = parseArgs({
      args: [...rest],
      options: {
        'grpc-port': { type: 'string', default: '4317' },
        'http-port': { type: 'string', default: '4318' },
        'json-file': { type: 'string' },
      },
    });
    const server = await startDev({
      grpcPort: port(values['grpc-port'], '--grpc-port'),
      httpPort: port(values['http-port'], '--http-port'),
      jsonFile: values['json-file'],
      colour: process.stdout.isTTY === true,
      print: (text) => process.stdout.write(`${text}\n`),
    });
    process.stdout.write(
      `rustok-otel dev: OTLP gRPC on ${server.grpcUrl}, HTTP on ${server.httpUrl}; each trace is printed, with its logs, when it is complete.\n` +
        `Run the app with OTEL_ENABLED=true OTEL_EXPORTER_OTLP_ENDPOINT=${server.grpcUrl} node --import @rustok/otel/register app.js\n\n`,
    );
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
    });
    await server.close();
    return 0;
  }
  process.stderr.write(
    command === undefined || command === '--help' || command === 'help' ? USAGE : `unknown command "${command}"\n\n${USAGE}`,
  );
  return command === undefined || command === '--help' || command === 'help' ? 0 : 2;
}

function port(value: string | undefined, option: string): number {
  const number = Number(value);
  if (Number.isInteger(number) && number >= 0 && number <= 65535) return number;
  throw new Error(`${option} ${value} is not a port number`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(reason(error));
    process.stderr.write(
      `rustok-otel: ${reason(error)}${inUse ? '; another collector may be running there: choose other ports with --grpc-port and --http-port' : ''}\n`,
    );
    process.exitCode = 2;
  },
);
