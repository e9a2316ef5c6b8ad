/**
 * The composition root: reads the config and the environment, opens the
 * transports, starts the mode, the store and the API, listens, and shuts down.
 * The only place that listens or reads process.env.
 */
import { buildApp, isLoopbackHost } from './api/index.js';
import { applyOverrides, defaultConfig, loadConfig, simulatorConfig, type Config, type ConfigFlags } from './config/index.js';
import { BridgeGateway, MasterGateway, type GatewayService } from './gateway/index.js';
import { createLogger } from './logging.js';
import { GatewayError, type Logger } from './shared/index.js';
import { defaultSpoolDir, openStore, type Store, type StoreOptions } from './store/index.js';
import { simulatorFactory } from './sim.js';

export { simulatorFactory, simulatorOptions } from './sim.js';

export const VERSION = '0.1.0';

export interface RunningGateway {
  readonly config: Config;
  readonly service: GatewayService;
  /** The transaction log every transaction goes to. */
  readonly store: Store;
  /** http://host:port the API listens on. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The transaction log `flowbus replay` imports into: --store, else the store of --config, else
 * FLOWBUS_STORE_URL, else the default. It spools in a directory of its own (the configured one
 * with `-replay`), so a gateway running beside it keeps its spool.
 */
export async function openReplaySink(where: { readonly store?: string; readonly config?: string }): Promise<Store> {
  const base = where.config ? await loadConfig(where.config) : defaultConfig();
  const config = applyOverrides(base, { env: process.env, flags: where.store ? { storeUrl: where.store } : {} });
  const spoolDir = config.store.spoolDir ?? defaultSpoolDir(config.store.url);
  return openStore({ ...config.store, spoolDir: `${spoolDir}-replay` }, { logger: createLogger('warn', 'pretty') });
}

/** What a failed listen means for the person starting the gateway, by errno. */
const LISTEN_PROBLEMS: Record<string, (where: string) => string> = {
  EADDRINUSE: (where) => `${where} is in use by another program (another gateway?): choose another port with --http-port, FLOWBUS_HTTP_PORT or http.port`,
  EADDRNOTAVAIL: (where) => `cannot listen on ${where}: this machine has no such address (http.host)`,
  EACCES: (where) => `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`,
};

/** Starts the gateway for a validated config: mode, API, listening. */
export async function startGateway(config: Config, logger: Logger, opts: { storeOptions?: StoreOptions } = {}): Promise<RunningGateway> {
  // The store first: every transaction from the first discovery on is logged. It migrates the
  // schema, and starts spooling rather than failing when a MySQL server is unreachable.
  const store = await openStore(config.store, { logger, ...(opts.storeOptions ? { options: opts.storeOptions } : {}) });
  const sims = simulatorFactory();
  const service: MasterGateway | BridgeGateway =
    config.mode === 'bridge' && config.bridge
      ? new BridgeGateway(config.bridge, { sink: store, logger, simulator: sims })
      : new MasterGateway(config, { logger, simulator: sims, sink: store });
  let url: string;
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  try {
    await service.start();
    app = await buildApp({ service, token: config.http.token, logger, version: VERSION, store, listenHost: config.http.host, allowedHosts: config.http.allowedHosts });
    const { host, port } = config.http;
    url = await app.listen({ host, port }).catch((err: NodeJS.ErrnoException) => {
      const why = LISTEN_PROBLEMS[err.code ?? ''];
      throw why ? new GatewayError('API_LISTEN_FAILED', why(`${host}:${port}`), { host, port }, { cause: err }) : err;
    });
  } catch (err) {
    await app?.close();
    await service.close();
    for (const s of sims.simulators.values()) await s.close();
    await store.close();
    throw err;
  }
  const api = app;
  return {
    config,
    service,
    store,
    url,
    async close() {
      await api.close();
      await service.close();
      for (const s of sims.simulators.values()) await s.close();
      // Last, so the transactions of the shutdown itself are logged; close flushes first.
      await store.close();
    },
  };
}

/**
 * The warning for an API reachable beyond this machine (http.host not a loopback address):
 * what anyone who can reach it can do. Undefined when it listens on loopback only.
 */
export function exposureWarning(config: Config, url: string): string | undefined {
  if (isLoopbackHost(config.http.host)) return undefined;
  const writes = config.http.token
    ? `and, with the token, write parameters (setpoints, valve modes${config.secured ? ', secured parameters too' : ''})`
    : 'but not write (no token: writes are disabled)';
  const hosts = config.http.allowedHosts.length > 0 ? `; Host names allowed: ${config.http.allowedHosts.join(', ')}` : '; only loopback names and http.host pass the Host check: add the names people use to http.allowedHosts';
  return (
    `the API on ${url} is reachable from the network (http.host ${config.http.host}): anyone who can reach it can read every parameter of every instrument, ` +
    `run discovery on the buses and read the transaction log, ${writes}; bind to 127.0.0.1 unless this is on purpose${hosts}`
  );
}

export interface ServeOptions extends ConfigFlags {
  readonly config?: string;
  /** Run against the built-in simulator (three instruments) when no config file is given. */
  readonly simulator?: boolean;
  readonly logFormat?: 'json' | 'pretty';
}

/** `flowbus serve`: load, override, start, and stop cleanly on SIGINT/SIGTERM. */
export async function serve(opts: ServeOptions): Promise<void> {
  const base = opts.config ? await loadConfig(opts.config) : opts.simulator ? simulatorConfig() : defaultConfig();
  const config = applyOverrides(base, { env: process.env, flags: opts });
  const format = opts.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const logger = createLogger(config.log.level, format);
  // The signals are handled from the start: a stop that comes while the gateway is still starting
  // (systemctl stop right after start) waits for the start, then closes cleanly.
  const state: { running?: RunningGateway; stopping?: string } = {};
  const close = (gateway: RunningGateway) =>
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  const stop = (signal: string) => {
    if (state.stopping) return;
    state.stopping = signal;
    logger.info({ signal }, state.running ? 'shutting down' : 'shutting down once started');
    if (state.running) void close(state.running);
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  const running = await startGateway(config, logger);
  state.running = running;
  if (state.stopping) {
    void close(running);
    return;
  }
  const shown = running.url.replace('0.0.0.0', '127.0.0.1');
  const exposed = exposureWarning(config, running.url);
  if (exposed) logger.warn({ host: config.http.host, port: config.http.port, writes: config.http.token ? 'enabled (token)' : 'disabled (no token)' }, exposed);
  logger.info(
    {
      mode: config.mode,
      ...(config.mode === 'bridge' && config.bridge
        ? { instrumentPort: config.bridge.instrumentPort, masterPort: config.bridge.masterPort }
        : { buses: config.buses.map((b) => `${b.name}=${b.port}`) }),
      store: running.store.status().url, spool: running.store.status().spoolFile, writes: config.http.token ? 'enabled (token)' : 'disabled (no token)' },
    `flowbus-gateway ${VERSION} listening: API ${shown}/api/v1/instruments, docs ${shown}/docs`,
  );
}
