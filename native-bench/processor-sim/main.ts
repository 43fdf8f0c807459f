// CLI: node dist/native-bench/processor-sim/main.js --port 8001 --fee 0.07 [--token 123] [--host 127.0.0.1] [--name default]
// Prints exactly one JSON line once listening: {"event":"listening","port":<n>,"url":"http://127.0.0.1:<n>"}

import { onLauncherGone, withoutLifeline } from '../../src/lifeline.js';
import { startSimulator, type SimulatorOptions } from './server.js';

const usage = 'usage: main.js --port <n> --fee <rate> [--token <t>] [--host <h>] [--name <n>]';

function fail(message: string): never {
  process.stderr.write('processor-sim: ' + message + '\n' + usage + '\n');
  process.exit(2);
}

function parseArgs(argv: readonly string[]): SimulatorOptions {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (!arg.startsWith('--')) fail('unexpected argument ' + JSON.stringify(arg));
    const eq = arg.indexOf('=');
    if (eq > 0) values.set(arg.slice(2, eq), arg.slice(eq + 1));
    else {
      const value = argv[i + 1];
      if (value === undefined) fail('missing value for ' + arg);
      values.set(arg.slice(2), value);
      i += 1;
    }
  }
  for (const key of values.keys()) {
    if (!['port', 'fee', 'token', 'host', 'name'].includes(key)) fail('unknown option --' + key);
  }
  const port_text = values.get('port');
  const fee_text = values.get('fee');
  if (port_text === undefined) fail('--port is required');
  if (fee_text === undefined) fail('--fee is required');
  const port = Number(port_text);
  const fee = Number(fee_text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port must be an integer in [0, 65535]');
  if (!Number.isFinite(fee) || fee < 0 || fee > 1) fail('--fee must be a rate in [0, 1], e.g. 0.07');
  return { port, fee, token: values.get('token'), host: values.get('host'), name: values.get('name') };
}

async function main(): Promise<void> {
  const options = parseArgs(withoutLifeline(process.argv.slice(2)));
  const sim = await startSimulator(options);
  process.stdout.write(JSON.stringify({ event: 'listening', port: sim.port, url: sim.url }) + '\n');
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  onLauncherGone(stop); // npm start's launcher died: stop with it
}

main().catch((error: unknown) => {
  process.stderr.write('processor-sim: ' + (error instanceof Error ? error.message : String(error)) + '\n');
  process.exit(1);
});
