/**
 * The composition root: reads the config and the environment, opens the
 * transports, starts the mode, the store and the API, listens, and shuts down.
 * The only place that listens or reads process.env.
 */
import { EVENT_STREAM_DEFAULTS, buildApp, findDashboardDir, isLoopbackHost } from './api/index.js';
import { applyOverrides, defaultConfig, gatewayName, loadConfig, simulatorConfig, type Config, type ConfigFlags } from './config/index.js';
import { BridgeGateway, GatewayEvents, jsonProgramFile, MasterGateway, Programs, type GatewayService } from './gateway/index.js';
import { createLogger } from './logging.js';
import { GatewayMetrics } from './metrics/index.js';
import type { MqttStatus } from './mqtt/index.js';
import { hostname } from 'node:os';
import { GatewayError, Lifecycle, type Logger } from './shared/index.js';
import { defaultSpoolDir, openStore, type Store, type StoreOptions } from './store/index.js';
import { simulatorFactory } from './sim.js';
import { dirname, join } from 'node:path';

export { simulatorFactory, simulatorOptions } from './sim.js';

export const VERSION = '0.1.0';

export interface RunningGateway {
  readonly config: Config;
  readonly service: GatewayService;
  /** The transaction log every transaction goes to. */
  readonly store: Store;
  /** What happens in the gateway: every consumer subscribes here. */
  readonly events: GatewayEvents;
  /** http://host:port the API listens on. */
  readonly url: string;
  /** The parts and their states. */
  readonly lifecycle: Lifecycle;
  /** The MQTT link's state (connected, queued, dropped, published, reconnects), when mqtt.url is set: for GET /bus and metrics. */
  readonly mqtt?: { status(): MqttStatus };
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
  return openStore({ ...config.store, spoolDir: `${spoolDir}-replay` }, { logger: createLogger('warn', 'pretty'), gateway: gatewayName(config) });
}

/** What a failed listen means for the person starting the gateway, by errno. */
const LISTEN_PROBLEMS: Record<string, (where: string) => string> = {
  EADDRINUSE: (where) => `${where} is in use by another program (another gateway?): choose another port with --http-port, FLOWBUS_HTTP_PORT or http.port`,
  EADDRNOTAVAIL: (where) => `cannot listen on ${where}: this machine has no such address (http.host)`,
  EACCES: (where) => `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`,
};

export interface StartOptions {
  storeOptions?: StoreOptions;
  /** The MQTT password (default FLOWBUS_MQTT_PASSWORD) and reconnect timing (tests shorten it). */
  mqtt?: { password?: string; reconnectInitialMs?: number; reconnectMaxMs?: number; staleAfterMs?: number };
}

/** Starts the gateway for a validated config: mode, API, listening. */
export async function startGateway(config: Config, logger: Logger, opts: StartOptions = {}): Promise<RunningGateway> {
  // The parts, started in this order and closed in reverse, once (SIGTERM, SIGINT, a failed start):
  // the store first, so that every transaction from the first discovery on is logged, and last to
  // close, so that the transactions of the shutdown itself are logged too.
  const life = new Lifecycle(logger);
  const events = new GatewayEvents(logger);
  const sims = simulatorFactory();
  let store: Store | undefined;
  let service: MasterGateway | BridgeGateway | undefined;
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  let url = '';
  let metrics: GatewayMetrics | undefined;
  let programs: Programs | undefined;
  let stopLog: (() => Promise<void>) | undefined;
  // Recorded with every transaction, so that gateways sharing one database keep their rows apart.
  const gateway = gatewayName(config);

  // MQTT is optional: a broker that is down is retried by the lifecycle, and never stops the rest.
  // Its client library is loaded only when a broker is configured (MQTT is off by default).
  const mqttConfig = config.mqtt;
  const mqtt = mqttConfig?.url
    ? new (await import('./mqtt/index.js')).MqttLink({
        config: { ...mqttConfig, url: mqttConfig.url },
        password: opts.mqtt?.password ?? process.env.FLOWBUS_MQTT_PASSWORD,
        events,
        logger,
        version: VERSION,
        // The dashboard as others reach it: a wildcard bind is shown under the host name.
        dashboardUrl: () => {
          const base = mqttConfig.homeAssistant.dashboardUrl ?? url.replace(/\/\/(0\.0\.0\.0|\[::\])(?=:)/, `//${hostname()}`);
          return base.endsWith('/') ? base : `${base}/`;
        },
        ...(opts.mqtt?.reconnectInitialMs === undefined ? {} : { reconnectInitialMs: opts.mqtt.reconnectInitialMs }),
        ...(opts.mqtt?.reconnectMaxMs === undefined ? {} : { reconnectMaxMs: opts.mqtt.reconnectMaxMs }),
        ...(opts.mqtt?.staleAfterMs === undefined ? {} : { staleAfterMs: opts.mqtt.staleAfterMs }),
      })
    : undefined;
  life.add({
    name: 'store',
    async start() {
      // It migrates the schema, and starts spooling rather than failing when a MySQL server is unreachable.
      const s = await openStore(config.store, { logger, gateway, ...(opts.storeOptions ? { options: opts.storeOptions } : {}) });
      store = s;
      // The transaction log is a consumer of the gateway's events like any other; it must lose
      // nothing, so its queue is not bounded (the store bounds its memory itself, by spooling).
      const off = events.on('transaction', (t) => s.write(t), { name: 'transaction-log', maxQueued: Infinity });
      const offState = s.onState((c) => events.emit('store', c));
      stopLog = async () => {
        // What the mode emitted while it closed reaches the log before the log closes.
        if (!(await events.settled(10_000))) logger.warn({ pending: events.stats() }, 'some events were not handled before the store closed');
        off();
        offState();
      };
    },
    async close() {
      await stopLog?.();
      await store?.close();
    },
  });
  life.add({
    name: 'simulators',
    async start() {},
    async close() {
      for (const s of sims.simulators.values()) await s.close();
    },
  });
  life.add({
    name: config.mode,
    async start() {
      // GET /transactions reads the log, which `serve` always has: the mode keeps no ring of recent
      // transactions beside it (1000 of them held about 2 MB of the heap for nothing).
      const s: MasterGateway | BridgeGateway =
        config.mode === 'bridge' && config.bridge
          ? new BridgeGateway({ ...config.bridge, recentTransactions: 0 }, { logger, simulator: sims, events, secured: config.secured })
          : new MasterGateway({ ...config, recentTransactions: 0 }, { logger, simulator: sims, events });
      service = s;
      try {
        await s.start();
      } catch (err) {
        await s.close();
        throw err;
      }
    },
    async close() {
      await service?.close();
    },
  });
  life.add({
    name: 'programs',
    async start() {
      if (!(service instanceof MasterGateway)) return;
      const file = config.programs.file ?? join(dirname(config.store.spoolDir ?? defaultSpoolDir(config.store.url)), 'programs.json');
      programs = new Programs(service, {
        file: jsonProgramFile(file),
        logger,
        defaults: { onRestart: config.programs.onRestart, rate: config.programs.rate },
        restoreWaitMs: config.programs.restoreWaitMs,
      });
      // In the background: a restored program waits for its instruments to come online.
      void programs.restore().catch((err: unknown) => logger.error({ err }, 'programs of the last run could not be restored'));
    },
    async close() {
      await programs?.close();
    },
  });
  life.add({
    name: 'http',
    async start() {
      if (!service || !store) throw new GatewayError('GATEWAY_INTERNAL', 'the HTTP API starts after the mode and the store');
      // Prometheus metrics, read from the service and the store at scrape time; labelled with the gateway's name.
      if (config.metrics.enabled) {
        metrics = new GatewayMetrics({ service, store, gateway, mqtt: mqtt ? () => mqtt.status() : undefined });
        metrics.start();
      }
      const a = await buildApp({
        service,
        token: config.http.token,
        logger,
        version: VERSION,
        store,
        gateway,
        listenHost: config.http.host,
        allowedHosts: config.http.allowedHosts,
        events: EVENT_STREAM_DEFAULTS,
        dashboardDir: findDashboardDir(),
        metrics,
        mqtt: mqtt ? () => mqtt.status() : undefined,
        programs,
      });
      app = a;
      const { host, port } = config.http;
      try {
        url = await a.listen({ host, port });
      } catch (e) {
        await a.close();
        metrics?.close();
        const err = e as NodeJS.ErrnoException;
        const why = LISTEN_PROBLEMS[err.code ?? ''];
        throw why ? new GatewayError('API_LISTEN_FAILED', why(`${host}:${port}`), { host, port }, { cause: err }) : err;
      }
    },
    async close() {
      await app?.close();
      metrics?.close();
    },
  });

  if (mqtt) {
    life.add({
      name: 'mqtt',
      optional: true,
      async start(signal) {
        if (!service) throw new GatewayError('GATEWAY_INTERNAL', 'MQTT starts after the mode');
        await mqtt.start(service, signal);
      },
      async close() {
        await mqtt.close();
      },
    });
  }

  await life.start();
  if (!service || !store) throw new GatewayError('GATEWAY_INTERNAL', 'the gateway started without its mode or store');
  return { config, service, store, events, url, lifecycle: life, ...(mqtt ? { mqtt: { status: () => mqtt.status() } } : {}), close: () => life.close() };
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
      gateway: running.store.gateway, store: running.store.status().url, spool: running.store.status().spoolFile, writes: config.http.token ? 'enabled (token)' : 'disabled (no token)' },
    `flowbus-gateway ${VERSION} listening: API ${shown}/api/v1/instruments, docs ${shown}/docs`,
  );
}
