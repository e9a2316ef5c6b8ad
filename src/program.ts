/** The `flowbus` command and its subcommands (commander); `cli.ts` is the entry that loads it. */
import { Command, Option } from 'commander';
import { serve, VERSION } from './main.js';
import { GatewayError } from './shared/index.js';

const program = new Command();
program
  .name('flowbus')
  .version(VERSION)
  .description('Bronkhorst FLOW-BUS / ProPar gateway: HTTP API over serial instruments, simulator, capture decoder, parameter database')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the gateway: open the buses, find and poll the instruments, serve the HTTP API')
  .option('-c, --config <file>', 'YAML config file (see flowbus.example.yaml)')
  .option('--simulator', 'without --config: run against three simulated instruments (nodes 3, 5, 7)')
  .option('-p, --port <address>', 'replace the first bus port (env FLOWBUS_PORT)')
  .option('--host <address>', 'HTTP bind address (env FLOWBUS_HTTP_HOST; default 127.0.0.1)')
  .option('--http-port <n>', 'HTTP port (env FLOWBUS_HTTP_PORT; default 8080)')
  .option('--token <token>', 'bearer token for writes; prefer env FLOWBUS_API_TOKEN, which ps does not show')
  .option('--store <url>', 'transaction log: sqlite:PATH or mysql://user:pass@host:3306/db; a password here shows in ps: prefer env FLOWBUS_STORE_URL')
  .addOption(new Option('--store-url <url>', 'the same as --store').hideHelp())
  .option('--spool-dir <dir>', 'where batches wait while the database is away (env FLOWBUS_SPOOL_DIR; default beside the store: PATH.spool for sqlite:PATH)')
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env FLOWBUS_LOG_LEVEL)')
  .addOption(new Option('--mode <mode>', 'master: poll the instruments; bridge: forward between two ports and log').choices(['master', 'bridge']))
  .option('--instrument-port <address>', 'bridge mode: the instrument side (serial path or tcp://host:port)')
  .option('--master-port <address>', 'bridge mode: the master side (Bright display adapter, PLC, vendor software)')
  .option('--capture <file>', 'bridge mode: also write the traffic as a socat -x -v capture')
  .option('--inject', "bridge mode: send the API's reads and writes in the gaps of the master's traffic (binary protocol only)")
  .addOption(new Option('--log-format <format>', 'json lines, or one readable line per record').choices(['json', 'pretty']))
  .action(async (opts: Parameters<typeof serve>[0] & { store?: string }) => {
    try {
      // --store, as in db migrate, export and replay; --store-url still works.
      await serve({ ...opts, ...(opts.store ? { storeUrl: opts.store } : {}) });
    } catch (err) {
      console.error(err instanceof GatewayError ? `error ${err.code}: ${err.message}` : err);
      process.exit(2);
    }
  });

// `flowbus serve` (npm start, the systemd unit) needs none of the other commands: they are loaded
// only for another command or for the help that lists them all, which saves the gateway their
// modules' memory and import time (the simulator's pty code, serialport, the lab's and programs'
// commands, the store's CLI).
if (process.argv[2] !== 'serve') await registerOtherCommands(program);

async function registerOtherCommands(program: Command): Promise<void> {
  const [simulate, backup, lab, oneshot, prog, config, demo, main, gateway, observe, params, store] = await Promise.all([
    import('../simulator/cli.js'),
    import('./commands/backup.js'),
    import('./commands/lab.js'),
    import('./commands/oneshot.js'),
    import('./commands/program.js'),
    import('./config/index.js'),
    import('./demo.js'),
    import('./main.js'),
    import('./gateway/index.js'),
    import('./observe/cli.js'),
    import('./params/cli.js'),
    import('./store/cli.js'),
  ]);
  demo.registerDemoCommand(program);
  simulate.registerSimulateCommand(program);
  const simulator = main.simulatorFactory();
  oneshot.registerOneShotCommands(program, simulator);
  backup.registerBackupCommands(program, simulator);
  prog.registerProgramCommand(program, simulator);
  lab.registerLabCommands(program, simulator);
  observe.registerDecodeCommand(program);
  params.registerParamsCommand(program);
  config.registerConfigCommand(program);
  store.registerStoreCommands(program);
  gateway.registerReplayCommand(program, main.openReplaySink);
}

// A reader that goes away (`flowbus params | head -1`) ends a command quietly with status 0, as
// for any Unix tool; the gateway itself keeps running (its log lines are then lost, not its bus).
let serving = false;
program.hook('preAction', (_program, action) => {
  serving = action.name() === 'serve';
});
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (!serving) process.exit(0);
  });
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // A command that fails with a GatewayError says so in one line with its code, never a stack.
  if (!(err instanceof GatewayError)) throw err;
  console.error(`error ${err.code}: ${err.message}`);
  process.exit(2);
}
