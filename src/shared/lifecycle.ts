/**
 * Components with a lifecycle, started in order and closed in reverse, once (STYLE habit 14: the
 * composition root starts and stops the parts). The one shutdown path of the gateway: SIGTERM,
 * SIGINT and a failed start all end in `close()`.
 *
 * A required component that fails to start closes what was started before it and fails the start.
 * An optional one (a broker that is down) is logged and retried with backoff in the background; it
 * never stops the bus or the log, and it is closed like the others once it has started.
 */
import { sleep } from './abort.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';

export interface Component {
  /** Names it in logs. */
  readonly name: string;
  /** Failing to start is logged and retried instead of failing the whole start. Default false. */
  readonly optional?: boolean;
  /** Starts it; `signal` aborts when the gateway is closed meanwhile. */
  start(signal: AbortSignal): Promise<void>;
  /** Frees everything it holds (ports, sockets, workers, timers). Called once, only after a successful start. */
  close(): Promise<void>;
}

export interface LifecycleOptions {
  /** First retry of an optional component after this long, ms; doubles up to `retryMaxMs`. Default 1000. */
  readonly retryInitialMs?: number;
  /** Longest wait between two retries of an optional component, ms. Default 60000. */
  readonly retryMaxMs?: number;
}

export function resolveLifecycleOptions(o: LifecycleOptions = {}): Required<LifecycleOptions> {
  return { retryInitialMs: o.retryInitialMs ?? 1_000, retryMaxMs: o.retryMaxMs ?? 60_000 };
}

export type ComponentState = 'idle' | 'starting' | 'running' | 'retrying' | 'closed' | 'failed';

interface Entry {
  readonly component: Component;
  state: ComponentState;
  lastError?: string | undefined;
  /** What the last failed start threw. */
  failure?: unknown;
  /** A start under way (the first, or a retry of an optional one). */
  starting?: Promise<boolean> | undefined;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Lifecycle {
  private readonly entries: Entry[] = [];
  private readonly stop = new AbortController();
  private readonly options: Required<LifecycleOptions>;
  private readonly log: Logger;
  private closing?: Promise<void>;

  constructor(logger: Logger = silentLogger, options: LifecycleOptions = {}) {
    this.log = logger;
    this.options = resolveLifecycleOptions(options);
  }

  /** Adds a component; started after those added before it, closed before them. */
  add<C extends Component>(component: C): C {
    if (this.closing) throw new Error(`lifecycle closed; cannot add ${component.name}`);
    this.entries.push({ component, state: 'idle' });
    return component;
  }

  /** Each component's state, in start order. */
  states(): { name: string; state: ComponentState; optional: boolean; lastError?: string }[] {
    return this.entries.map((e) => ({
      name: e.component.name,
      state: e.state,
      optional: e.component.optional === true,
      ...(e.lastError === undefined ? {} : { lastError: e.lastError }),
    }));
  }

  /**
   * Starts every component in order. When a required one fails, everything started is closed in
   * reverse and the start rejects with that failure.
   */
  async start(): Promise<void> {
    for (const entry of this.entries) {
      if (this.stop.signal.aborted) break;
      if (entry.state !== 'idle') continue;
      const ok = await this.startOne(entry);
      if (!ok && !entry.component.optional) {
        const error = entry.lastError ?? 'failed';
        await this.close();
        throw entry.failure ?? new Error(`${entry.component.name} failed to start: ${error}`);
      }
      if (!ok) this.retry(entry);
    }
  }

  private async startOne(entry: Entry): Promise<boolean> {
    entry.state = 'starting';
    const run = entry.component.start(this.stop.signal).then(
      () => {
        entry.state = 'running';
        entry.lastError = undefined;
        entry.failure = undefined;
        return true;
      },
      (err: unknown) => {
        entry.state = entry.component.optional ? 'retrying' : 'failed';
        entry.lastError = message(err);
        entry.failure = err;
        return false;
      },
    );
    entry.starting = run;
    const ok = await run;
    entry.starting = undefined;
    return ok;
  }

  private retry(entry: Entry): void {
    const { retryInitialMs, retryMaxMs } = this.options;
    this.log.warn(
      { component: entry.component.name, error: entry.lastError, retryInMs: retryInitialMs },
      `${entry.component.name} did not start (${entry.lastError ?? 'failed'}); the gateway runs without it and tries again`,
    );
    void (async () => {
      let waitMs = retryInitialMs;
      let attempts = 1;
      while (!this.stop.signal.aborted) {
        try {
          await sleep(waitMs, this.stop.signal);
        } catch {
          return;
        }
        attempts++;
        if (await this.startOne(entry)) {
          this.log.info({ component: entry.component.name, attempts }, `${entry.component.name} started after ${attempts} attempts`);
          if (this.stop.signal.aborted) await this.closeOne(entry);
          return;
        }
        this.log.debug({ component: entry.component.name, error: entry.lastError, attempts }, `${entry.component.name} still does not start`);
        waitMs = Math.min(retryMaxMs, waitMs * 2);
      }
    })();
  }

  private async closeOne(entry: Entry): Promise<void> {
    if (entry.state !== 'running') {
      if (entry.state !== 'failed') entry.state = 'closed';
      return;
    }
    entry.state = 'closed';
    try {
      await entry.component.close();
    } catch (err) {
      this.log.error({ component: entry.component.name, err }, `closing ${entry.component.name} failed`);
    }
  }

  /**
   * Closes every started component in reverse order, once: a second call returns the first call's
   * promise. A close that fails is logged and the others are still closed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stop.abort(new Error('closing'));
      for (const entry of [...this.entries].reverse()) {
        // A start under way (an optional component's retry) is waited for, then closed.
        if (entry.starting) await entry.starting;
        await this.closeOne(entry);
      }
    })();
    return this.closing;
  }
}
