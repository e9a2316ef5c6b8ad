/**
 * The gateway on an MQTT broker: state, availability and Home Assistant discovery out, commands
 * in. A consumer of the gateway's events like the transaction log; it never reaches into a mode.
 * A broker that is down or slow never delays polling or the log: the event listeners only put
 * messages into the bounded outbox, which is drained while the client is connected.
 */
import { hostname } from 'node:os';
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { MqttConfig } from '../config/index.js';
import type { CounterEvent, GatewayEvents, GatewayService, InstrumentEvent, InstrumentView, ProgramEvent, ValueView, ValuesEvent, WriteResult } from '../gateway/index.js';
import { GatewayError, RefusalLimiter, dropped, errorLine, isGatewayError, redactUrl, type ErrorCode, type Logger } from '../shared/index.js';
import { discoveryConfigs, type DiscoveryContext } from './discovery.js';
import { Outbox, type OutMessage } from './outbox.js';
import { changedBeyond, instrumentTopic, nodeTopic, stateMessage, topicsFor, type Topics } from './topics.js';

/** Largest command payload, bytes; a command is a few dozen. */
export const MAX_COMMAND_BYTES = 1024;
/** Parameters one command may set. */
const MAX_COMMAND_KEYS = 8;
/** Commands waiting for one instrument (besides the one running) beyond which more are refused. */
export const MAX_PENDING_COMMANDS = 4;
/** Command answers waiting for the broker beyond which the oldest are dropped: a flood of commands cannot push state out. */
const MAX_ANSWERS = 100;
/** Publishes handed to the client and not yet confirmed. */
const MAX_IN_FLIGHT = 64;
/** How long the retained discovery record is waited for after subscribing, ms. */
const RECORD_WAIT_MS = 1000;
/** How long a clean close waits for the broker, ms. */
const CLOSE_WAIT_MS = 2000;

export interface MqttStatus {
  /** The broker, without a password. */
  readonly url: string;
  readonly clientId: string;
  readonly state: 'connecting' | 'connected' | 'reconnecting' | 'closed';
  /** ISO time of the last state change. */
  readonly since: string;
  readonly lastError?: string;
  /** Messages waiting in the outbox (at most one per topic). */
  readonly queued: number;
  readonly inFlight: number;
  readonly published: number;
  /** Messages replaced by a newer one of their topic before they went out, or pushed out by the bound. */
  readonly dropped: number;
  readonly reconnects: number;
  readonly commands: { readonly accepted: number; readonly refused: number };
}

export interface MqttLinkOptions {
  /** `mqtt` of the config, with a url. */
  readonly config: MqttConfig & { readonly url: string };
  /** From FLOWBUS_MQTT_PASSWORD only. */
  readonly password?: string | undefined;
  readonly events: GatewayEvents;
  readonly logger: Logger;
  readonly version: string;
  /** The dashboard's base URL for Home Assistant's configuration_url, ending in `/` (known once the API listens). */
  readonly dashboardUrl: () => string;
  /** First wait before reconnecting, ms; doubles per failed attempt up to `reconnectMaxMs`. Default 500. */
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
  /** Discovery configs of an earlier run not published again this long after the start are removed, ms. Default 30000 (a discovery walk). */
  readonly staleAfterMs?: number;
  /** A connection attempt without CONNACK after this long fails, ms. Default 5000. */
  readonly connectTimeoutMs?: number;
}

interface CommandJob {
  readonly inst: string;
  readonly id: string;
  readonly entries: readonly [string, unknown][];
  readonly packet: IPublishPacket;
}

interface Refusal {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: Record<string, unknown>;
}

function refusal(err: unknown): Refusal {
  if (isGatewayError(err)) return { code: err.code, message: err.message, details: err.details };
  return { code: 'GATEWAY_INTERNAL', message: 'the write failed unexpectedly; see the gateway log', details: {} };
}

/** Links made in this process, for distinct default client ids. */
let links = 0;

export class MqttLink {
  readonly clientId: string;
  private readonly cfg: MqttLinkOptions['config'];
  private readonly topics: Topics;
  private readonly outbox: Outbox;
  /** Answers to commands, bounded apart from the state. */
  private readonly answers = new Outbox(MAX_ANSWERS);
  /** Refused commands are logged in full once per instrument topic and code a minute, then counted. */
  private readonly refusals: RefusalLimiter;
  private readonly log: Logger;
  private readonly haStatusTopic: string;
  private client?: MqttClient | undefined;
  private service?: GatewayService | undefined;
  private state: MqttStatus['state'] = 'connecting';
  private since = new Date().toISOString();
  private lastError?: string | undefined;
  private inFlight = 0;
  private published = 0;
  private reconnects = 0;
  private accepted = 0;
  private refused = 0;
  /** Bumped at each lost connection: confirmations of publishes on an earlier one are ignored. */
  private generation = 0;
  private closing = false;
  private offEvents: (() => void)[] = [];
  /** Every value of each instrument, by id and key, as last seen. */
  private readonly values = new Map<string, Map<string, ValueView>>();
  /** What each instrument's last state message held, for publish: change. */
  private readonly lastPublished = new Map<string, Map<string, number | string>>();
  /** Instrument id -> topic level, and back. */
  private names = new Map<string, string>();
  private byName = new Map<string, string>();
  /** Discovery config topics published while this process runs. */
  private readonly discovered = new Set<string>();
  private recordTimer?: NodeJS.Timeout | undefined;
  private staleTimer?: NodeJS.Timeout | undefined;
  /** Configs of an earlier run not (yet) published again by this one. */
  private readonly pendingStale = new Set<string>();
  private startedAt = Date.now();
  private readonly commands = new Map<string, { running: boolean; queue: CommandJob[] }>();
  private responseSeq = 0;
  private reconnectMs: number;

  constructor(private readonly opts: MqttLinkOptions) {
    this.cfg = opts.config;
    // Two clients with one id take the session from each other: the default differs per process.
    const n = ++links;
    this.clientId = this.cfg.clientId ?? `flowbus-${hostname()}-${process.pid}${n > 1 ? `-${n}` : ''}`;
    this.topics = topicsFor(this.cfg.baseTopic);
    this.outbox = new Outbox(this.cfg.maxQueued);
    this.log = opts.logger.child({ component: 'mqtt' });
    this.refusals = new RefusalLimiter(this.log);
    this.haStatusTopic = `${this.cfg.homeAssistant.prefix}/status`;
    this.reconnectMs = opts.reconnectInitialMs ?? 500;
  }

  status(): MqttStatus {
    return {
      url: redactUrl(this.cfg.url),
      clientId: this.clientId,
      state: this.state,
      since: this.since,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      queued: this.outbox.size + this.answers.size,
      inFlight: this.inFlight,
      published: this.published,
      dropped: this.outbox.dropped + this.answers.dropped,
      reconnects: this.reconnects,
      commands: { accepted: this.accepted, refused: this.refused },
    };
  }

  private setState(s: MqttStatus['state']): void {
    if (s === this.state) return;
    this.state = s;
    this.since = new Date().toISOString();
  }

  /**
   * Connects; rejects (MQTT_CONNECT_FAILED) when the first attempt fails, so that the lifecycle
   * retries with its backoff. Once connected, the client reconnects by itself.
   */
  async start(service: GatewayService, signal: AbortSignal): Promise<void> {
    this.service = service;
    this.closing = false;
    this.startedAt = Date.now();
    this.setState('connecting');
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: this.clientId,
      ...(this.cfg.username ? { username: this.cfg.username } : {}),
      ...(this.opts.password ? { password: this.opts.password } : {}),
      will: { topic: this.topics.bridgeState, payload: Buffer.from('offline'), qos: this.cfg.qos, retain: true },
      reconnectPeriod: this.opts.reconnectInitialMs ?? 500,
      connectTimeout: this.opts.connectTimeoutMs ?? 5000,
      queueQoSZero: false,
      clean: true,
      resubscribe: false,
    };
    const client = connect(this.cfg.url, options);
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string) => {
        cleanup();
        client.end(true);
        this.lastError = why;
        reject(new GatewayError('MQTT_CONNECT_FAILED', `MQTT broker ${redactUrl(this.cfg.url)}: ${why}`, { url: redactUrl(this.cfg.url) }));
      };
      const onConnect = () => {
        cleanup();
        resolve();
      };
      const onError = (err: Error) => fail(errorLine(err));
      const onClose = () => fail(this.lastError ?? 'the connection closed before the broker accepted it');
      const onAbort = () => fail('the gateway is closing');
      const cleanup = () => {
        client.off('connect', onConnect);
        client.off('error', onError);
        client.off('close', onClose);
        signal.removeEventListener('abort', onAbort);
      };
      client.on('connect', onConnect);
      client.on('error', onError);
      client.on('close', onClose);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    this.client = client;
    client.on('connect', () => this.onConnected());
    client.on('close', () => this.onClosed());
    client.on('reconnect', () => {
      this.reconnects++;
      // Backoff: each failed attempt doubles the wait, up to the most.
      this.reconnectMs = Math.min(this.opts.reconnectMaxMs ?? 30_000, this.reconnectMs * 2);
      client.options.reconnectPeriod = this.reconnectMs;
    });
    client.on('error', (err) => {
      const line = errorLine(err);
      if (line !== this.lastError) this.log.warn({ error: line }, `MQTT broker ${redactUrl(this.cfg.url)}: ${line}; the gateway goes on and reconnects`);
      this.lastError = line;
    });
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    const bounded = { maxQueued: 1000 };
    this.offEvents = [
      this.opts.events.on('values', (e) => this.onValues(e), { ...bounded, name: 'mqtt-values' }),
      this.opts.events.on('instrument', (e) => this.onInstrument(e), { ...bounded, name: 'mqtt-instrument' }),
      this.opts.events.on('program', (e) => this.onProgram(e), { ...bounded, name: 'mqtt-program' }),
      this.opts.events.on('counter', (e) => this.onCounter(e), { ...bounded, name: 'mqtt-counter' }),
    ];
    this.onConnected();
    this.log.info({ url: redactUrl(this.cfg.url), clientId: this.clientId, baseTopic: this.cfg.baseTopic }, `MQTT connected to ${redactUrl(this.cfg.url)}`);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const off of this.offEvents.splice(0)) off();
    clearTimeout(this.recordTimer);
    clearTimeout(this.staleTimer);
    this.refusals.close();
    const client = this.client;
    this.client = undefined;
    this.setState('closed');
    if (!client) return;
    if (client.connected) {
      // A clean stop says so itself; the last will is for a process that dies.
      await withTimeout(client.publishAsync(this.topics.bridgeState, 'offline', { qos: this.cfg.qos, retain: true }), CLOSE_WAIT_MS).catch(dropped(this.log, 'publishing bridge offline'));
    }
    await withTimeout(client.endAsync(), CLOSE_WAIT_MS).catch((err: unknown) => {
      this.log.debug({ err: errorLine(err) }, 'the MQTT client did not end cleanly; closing it');
      client.end(true);
    });
  }

  // ------------------------------------------------------------------ connection

  private onConnected(): void {
    const client = this.client;
    if (!client || this.closing) return;
    if (this.state !== 'connected' && this.state !== 'connecting') this.log.info({ url: redactUrl(this.cfg.url), reconnects: this.reconnects }, 'MQTT reconnected');
    this.setState('connected');
    this.lastError = undefined;
    this.reconnectMs = this.opts.reconnectInitialMs ?? 500;
    client.options.reconnectPeriod = this.reconnectMs;
    const qos = this.cfg.qos;
    const subs = [this.topics.setFilter, ...(this.cfg.homeAssistant.enabled ? [this.haStatusTopic, this.topics.discoveryRecord] : [])];
    client.subscribe(subs, { qos }, (err) => {
      if (err) this.log.warn({ error: errorLine(err) }, 'MQTT subscribe failed; commands may not arrive');
    });
    if (this.cfg.homeAssistant.enabled) {
      // The record is read before it is written again; without one within the wait, nothing was published before.
      clearTimeout(this.recordTimer);
      this.recordTimer = setTimeout(() => this.settleRecord([]), RECORD_WAIT_MS);
    }
    this.outbox.put(this.out(this.topics.bridgeState, 'online', true));
    this.publishAll();
  }

  private onClosed(): void {
    if (this.closing) return;
    this.generation++;
    this.inFlight = 0;
    if (this.state === 'connected') this.log.warn({ url: redactUrl(this.cfg.url), queued: this.outbox.size }, 'MQTT connection lost; reconnecting (state keeps the latest message per topic)');
    this.setState('reconnecting');
  }

  private out(topic: string, payload: string, retain: boolean, properties?: OutMessage['properties']): OutMessage {
    return { topic, payload, retain, qos: this.cfg.qos, ...(properties ? { properties } : {}) };
  }

  /** Hands waiting messages to the client, a bounded number in flight. */
  private flush(): void {
    const client = this.client;
    while (client?.connected && !this.closing && this.inFlight < MAX_IN_FLIGHT) {
      // State first: answers are few and bounded apart.
      const box = this.outbox.size > 0 ? this.outbox : this.answers;
      const next = box.take();
      if (!next) return;
      const { key, message: m } = next;
      const gen = this.generation;
      this.inFlight++;
      client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain, ...(m.properties ? { properties: m.properties } : {}) }, (err) => {
        if (gen !== this.generation) return;
        this.inFlight--;
        if (err) {
          this.lastError = errorLine(err);
          box.putBack(key, m);
        } else {
          this.published++;
        }
        setImmediate(() => this.flush());
      });
    }
  }

  private enqueue(m: OutMessage, key?: string): void {
    this.outbox.put(m, key);
    this.flush();
  }

  // ------------------------------------------------------------------ out: state, availability, discovery

  /** Topic levels for every instrument: its name made safe, else (or when taken) bus-node. */
  private renameAll(views: readonly InstrumentView[]): void {
    const names = new Map<string, string>();
    const byName = new Map<string, string>();
    for (const v of [...views].sort((a, b) => a.id.localeCompare(b.id))) {
      let name = instrumentTopic(v);
      if (byName.has(name) || name === 'bridge') name = nodeTopic(v);
      names.set(v.id, name);
      byName.set(name, v.id);
    }
    this.names = names;
    this.byName = byName;
  }

  private nameOf(id: string): string | undefined {
    if (!this.names.has(id) && this.service) this.renameAll(this.service.instruments());
    return this.names.get(id);
  }

  private publishAll(): void {
    const views = this.service?.instruments() ?? [];
    this.renameAll(views);
    for (const v of views) {
      const known = this.values.get(v.id) ?? new Map<string, ValueView>();
      for (const [k, value] of Object.entries(v.values)) if (!known.has(k)) known.set(k, value);
      if (known.size > 0) this.values.set(v.id, known);
      this.publishAvailability(v.id, v.online);
      this.publishState(v.id, true);
      this.publishDiscovery(v);
    }
    this.flush();
  }

  private publishAvailability(id: string, online: boolean): void {
    const name = this.nameOf(id);
    if (name) this.enqueue(this.out(this.topics.availability(name), online ? 'online' : 'offline', true));
  }

  private publishState(id: string, always: boolean): void {
    const name = this.nameOf(id);
    const values = this.values.get(id);
    if (!name || !values || values.size === 0) return;
    const now = new Map([...values.values()].map((v) => [v.key, v.value] as const));
    if (!always && this.cfg.publish === 'change' && !changedBeyond(this.lastPublished.get(id), now, this.cfg.deadband)) return;
    this.lastPublished.set(id, now);
    this.enqueue(this.out(this.topics.state(name), JSON.stringify(stateMessage(values.values())), this.cfg.retain));
  }

  /** A program's state, retained, on the topic of each of its instruments. */
  private onProgram(e: ProgramEvent): void {
    const payload = JSON.stringify({
      id: e.id,
      name: e.name,
      state: e.state,
      change: e.change,
      step: e.step ? e.step.index + 1 : null,
      steps: e.steps,
      timeLeft: e.step?.timeLeftMs === null || e.step?.timeLeftMs === undefined ? null : e.step.timeLeftMs / 1000,
      time: new Date().toISOString(),
    });
    for (const i of e.instruments) {
      const name = this.nameOf(i.id);
      if (name) this.enqueue(this.out(this.topics.program(name), payload, true));
    }
  }

  private onCounter(e: CounterEvent): void {
    const name = this.nameOf(e.instrument);
    if (!name) return;
    const { instrument, kind, time } = e;
    const payload = JSON.stringify({ event: kind, instrument, ...(e.value !== undefined ? { value: e.value } : {}), time });
    this.enqueue(this.out(this.topics.event(name), payload, false));
  }

  private discoveryContext(): DiscoveryContext {
    return { prefix: this.cfg.homeAssistant.prefix, topics: this.topics, dashboardUrl: this.opts.dashboardUrl(), writes: this.cfg.writes, version: this.opts.version };
  }

  private publishDiscovery(view: InstrumentView): void {
    if (!this.cfg.homeAssistant.enabled) return;
    const name = this.nameOf(view.id);
    if (!name) return;
    const configs = discoveryConfigs(view, name, this.discoveryContext());
    let grew = false;
    for (const c of configs) {
      this.enqueue(this.out(c.topic, JSON.stringify(c.payload), true));
      if (!this.discovered.has(c.topic)) {
        this.discovered.add(c.topic);
        grew = true;
      }
    }
    // The record follows once the one on the broker has been read (settleRecord).
    if (grew && this.recordTimer === undefined) this.publishRecord();
  }

  private publishRecord(): void {
    const configs = [...new Set([...this.discovered, ...this.pendingStale])].sort();
    this.enqueue(this.out(this.topics.discoveryRecord, JSON.stringify({ configs }), true));
  }

  /**
   * The retained record of the configs published before has been read: those not published again
   * once the instruments had time to be found (`staleAfterMs` after the start, a discovery walk)
   * are cleared with empty retained messages.
   */
  private settleRecord(before: readonly string[]): void {
    clearTimeout(this.recordTimer);
    this.recordTimer = undefined;
    const prefix = `${this.cfg.homeAssistant.prefix}/`;
    for (const t of before) if (!this.discovered.has(t) && t.startsWith(prefix) && t.endsWith('/config')) this.pendingStale.add(t);
    this.publishRecord();
    this.client?.unsubscribe(this.topics.discoveryRecord, (err) => {
      if (err) this.log.debug({ err: errorLine(err) }, 'dropped: unsubscribing the discovery record');
    });
    clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => this.clearStale(), Math.max(0, this.startedAt + (this.opts.staleAfterMs ?? 30_000) - Date.now()));
  }

  private clearStale(): void {
    const stale = [...this.pendingStale].filter((t) => !this.discovered.has(t));
    this.pendingStale.clear();
    for (const t of stale) this.enqueue(this.out(t, '', true));
    if (stale.length > 0) this.log.info({ removed: stale.length }, `removed ${stale.length} Home Assistant discovery configs of instruments no longer here`);
    this.publishRecord();
  }

  private onValues(e: ValuesEvent): void {
    let known = this.values.get(e.instrument);
    if (!known) {
      known = new Map();
      this.values.set(e.instrument, known);
    }
    for (const v of e.values) known.set(v.key, v);
    this.publishState(e.instrument, false);
  }

  private onInstrument(e: InstrumentEvent): void {
    if (e.kind === 'found' && this.service) this.renameAll(this.service.instruments());
    this.publishAvailability(e.instrument, e.online);
    if ((e.kind === 'found' || e.kind === 'identity') && this.service) {
      try {
        this.publishDiscovery(this.service.instrument(e.instrument));
      } catch (err) {
        this.log.debug({ err: errorLine(err), instrument: e.instrument }, 'dropped: discovery of an instrument that went away');
      }
    }
  }

  // ------------------------------------------------------------------ in: commands

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (topic === this.haStatusTopic) {
      if (payload.toString('utf8').trim() === 'online') {
        this.log.info({}, 'Home Assistant is online: discovery published again');
        this.publishAll();
      }
      return;
    }
    if (topic === this.topics.discoveryRecord) {
      if (this.recordTimer === undefined) return;
      let before: string[] = [];
      try {
        const parsed = JSON.parse(payload.toString('utf8')) as { configs?: unknown };
        if (Array.isArray(parsed.configs)) before = parsed.configs.filter((t): t is string => typeof t === 'string');
      } catch (err) {
        this.log.debug({ err: errorLine(err) }, 'dropped: a discovery record that is not JSON');
      }
      this.settleRecord(before);
      return;
    }
    const prefix = `${this.cfg.baseTopic}/`;
    if (!topic.startsWith(prefix) || !topic.endsWith('/set')) return;
    const inst = topic.slice(prefix.length, -'/set'.length);
    if (inst.includes('/')) return;
    this.onCommand(inst, payload, packet);
  }

  private respond(inst: string, packet: IPublishPacket, body: Record<string, unknown>): void {
    const payload = JSON.stringify({ ...body, time: new Date().toISOString() });
    const seq = ++this.responseSeq;
    // Results are not replaced by later ones: each answers its own command.
    this.answers.put(this.out(this.topics.result(inst), payload, false), `result ${seq}`);
    const to = packet.properties?.responseTopic;
    if (typeof to === 'string' && to.length > 0 && !/[#+]/.test(to)) {
      const correlationData = packet.properties?.correlationData;
      this.answers.put(this.out(to, payload, false, correlationData ? { correlationData } : undefined), `response ${seq}`);
    }
    this.flush();
  }

  private refuse(inst: string, packet: IPublishPacket, code: ErrorCode, message: string, details: Record<string, unknown> = {}): void {
    this.refused++;
    this.refusals.refused(`mqtt:${inst}`, code, () => this.log.warn({ instrument: inst, code, source: `mqtt:${this.clientId}` }, `MQTT command refused: ${message}`));
    this.respond(inst, packet, { ok: false, error: { code, message, details } });
  }

  private onCommand(inst: string, payload: Buffer, packet: IPublishPacket): void {
    if (packet.retain) {
      // A retained command would be applied again at every reconnect.
      this.refuse(inst, packet, 'MQTT_BAD_COMMAND', 'retained commands are ignored: publish the command without the retain flag');
      return;
    }
    if (payload.length > MAX_COMMAND_BYTES) {
      this.refuse(inst, packet, 'MQTT_COMMAND_TOO_LARGE', `the command has ${payload.length} bytes; at most ${MAX_COMMAND_BYTES} are accepted`, { bytes: payload.length, max: MAX_COMMAND_BYTES });
      return;
    }
    if (!this.cfg.writes) {
      this.refuse(inst, packet, 'MQTT_WRITES_DISABLED', 'commands over MQTT are off: set mqtt.writes: true in the config to accept them');
      return;
    }
    const id = this.byName.get(inst) ?? (this.service && (this.renameAll(this.service.instruments()), this.byName.get(inst)));
    if (!id) {
      this.refuse(inst, packet, 'MQTT_UNKNOWN_INSTRUMENT', `no instrument is published as ${JSON.stringify(inst)}`, { instrument: inst, known: [...this.byName.keys()].sort() });
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      this.refuse(inst, packet, 'MQTT_BAD_COMMAND', `the command is not JSON (${errorLine(err)}); send e.g. {"fSetpoint": 12.5}`);
      return;
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      this.refuse(inst, packet, 'MQTT_BAD_COMMAND', 'the command must be a JSON object of parameter names and values, e.g. {"fSetpoint": 12.5}');
      return;
    }
    const entries = Object.entries(body as Record<string, unknown>);
    if (entries.length === 0 || entries.length > MAX_COMMAND_KEYS) {
      this.refuse(inst, packet, 'MQTT_BAD_COMMAND', `a command sets 1 to ${MAX_COMMAND_KEYS} parameters; this one has ${entries.length}`, { count: entries.length, max: MAX_COMMAND_KEYS });
      return;
    }
    let q = this.commands.get(id);
    if (!q) {
      q = { running: false, queue: [] };
      this.commands.set(id, q);
    }
    if (q.queue.length >= MAX_PENDING_COMMANDS) {
      this.refuse(inst, packet, 'MQTT_BUSY', `${MAX_PENDING_COMMANDS} commands already wait for ${inst}; try again when they are done`, { pending: q.queue.length, max: MAX_PENDING_COMMANDS });
      return;
    }
    q.queue.push({ inst, id, entries, packet });
    if (!q.running) void this.runCommands(q);
  }

  /** One command at a time per instrument, each parameter in order. */
  private async runCommands(q: { running: boolean; queue: CommandJob[] }): Promise<void> {
    q.running = true;
    try {
      for (let job = q.queue.shift(); job; job = q.queue.shift()) {
        const results: Record<string, unknown>[] = [];
        for (const [param, value] of job.entries) {
          try {
            if (!this.service || this.closing) throw new GatewayError('BUS_ABORTED', 'the gateway is closing');
            const r: WriteResult = await this.service.writeParam(job.id, param, value, { source: `mqtt:${this.clientId}` });
            this.accepted++;
            results.push({ param: r.param.key, ok: true, written: r.written, ...(r.readBack ? { readBack: r.readBack.value } : {}), transactionId: r.transactionId });
          } catch (err) {
            this.refused++;
            const why = refusal(err);
            this.refusals.refused(`mqtt:${job.inst}`, why.code, () =>
              this.log.warn({ instrument: job.id, param, code: why.code, source: `mqtt:${this.clientId}` }, `MQTT write refused: ${why.message}`),
            );
            results.push({ param, ok: false, error: why });
          }
        }
        this.respond(job.inst, job.packet, { ok: results.every((r) => r.ok === true), instrument: job.id, results });
      }
    } finally {
      q.running = false;
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
