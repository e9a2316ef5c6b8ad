/**
 * A typed event hub whose listeners cannot hold up whoever emits (STYLE habit 14, the idea of
 * Zigbee2MQTT's event bus). `emit` only appends the event to each subscriber's queue and returns;
 * the listeners run later, each subscriber on its own, in order of emission. So:
 * - a listener that throws is caught, counted and logged (once, then a reminder a minute at most
 *   with the count meanwhile); the other listeners and the emitter never see it;
 * - a listener that returns a promise gets its next event only when the promise settles, so a
 *   slow consumer (a broker, a browser over SSE) waits on itself, not on the bus;
 * - what a slow subscriber has not taken yet is bounded (`maxQueued`): beyond it the oldest
 *   events of that subscriber are dropped and counted, never the emitter's memory. The
 *   transaction log subscribes with `maxQueued: Infinity`, since it must lose nothing and keeps
 *   up by design (its writes are queued in memory and spooled to disk).
 *
 * A listener that is slow *synchronously* still takes the one thread when its turn comes; it
 * delays the bus then as any other code would, but never inside the emitter's call.
 */
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';

/** `{ name: payload }`: the events a hub carries. */
export type EventMap = { readonly [name: string]: unknown };

export type Listener<T> = (event: T) => void | Promise<void>;

export interface SubscribeOptions {
  /** Names the subscriber in logs and stats. Default: the event name and a number. */
  readonly name?: string;
  /** Events waiting for this subscriber beyond which the oldest are dropped. Default 10,000; Infinity keeps all. */
  readonly maxQueued?: number;
}

export interface SubscriberStats {
  readonly name: string;
  readonly event: string;
  readonly delivered: number;
  readonly failed: number;
  readonly dropped: number;
  readonly queued: number;
}

/** How often a failing or overflowing subscriber is logged again, with its count, ms. */
const REMIND_MS = 60_000;
/** Events one subscriber handles in one turn of the event loop before it yields. */
const TURN = 256;

class Subscriber<T> {
  readonly queue: T[] = [];
  head = 0;
  delivered = 0;
  failed = 0;
  dropped = 0;
  running = false;
  closed = false;
  /** Events pushed, and events handled or dropped: for `settled`. */
  pushed = 0;
  done = 0;
  private reported = { failedAt: -Infinity, failedSince: 0, droppedAt: -Infinity, droppedSince: 0 };

  constructor(
    readonly name: string,
    readonly event: string,
    readonly listener: Listener<T>,
    readonly maxQueued: number,
    private readonly log: Logger,
  ) {}

  get waiting(): number {
    return this.queue.length - this.head;
  }

  push(event: T): void {
    if (this.closed) return;
    if (this.waiting >= this.maxQueued) {
      this.queue[this.head] = undefined as T;
      this.head++;
      this.dropped++;
      this.done++;
      this.report('dropped', undefined);
    }
    this.queue.push(event);
    this.pushed++;
    if (!this.running) {
      this.running = true;
      setImmediate(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    try {
      let turn = 0;
      while (!this.closed && this.waiting > 0) {
        const event = this.queue[this.head] as T;
        this.queue[this.head] = undefined as T;
        this.head++;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
        try {
          const out = this.listener(event);
          if (out && typeof (out as Promise<void>).then === 'function') await out;
          this.delivered++;
        } catch (err) {
          this.failed++;
          this.report('failed', err);
        }
        this.done++;
        if (++turn >= TURN) {
          turn = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.running = false;
      if (!this.closed && this.waiting > 0) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    }
  }

  private report(kind: 'failed' | 'dropped', err: unknown): void {
    const r = this.reported;
    const now = Date.now();
    const at = kind === 'failed' ? r.failedAt : r.droppedAt;
    if (kind === 'failed') r.failedSince++;
    else r.droppedSince++;
    if (now - at < REMIND_MS) return;
    const count = kind === 'failed' ? r.failedSince : r.droppedSince;
    const total = kind === 'failed' ? this.failed : this.dropped;
    const fields = { subscriber: this.name, event: this.event, total, ...(at === -Infinity ? {} : { sinceLastLine: count }) };
    if (kind === 'failed') {
      this.log.error({ ...fields, err }, `event listener ${this.name} failed on "${this.event}"; the gateway goes on without it`);
      r.failedAt = now;
      r.failedSince = 0;
    } else {
      this.log.warn({ ...fields, maxQueued: this.maxQueued }, `event listener ${this.name} does not keep up with "${this.event}"; its oldest events are dropped`);
      r.droppedAt = now;
      r.droppedSince = 0;
    }
  }

  stats(): SubscriberStats {
    return { name: this.name, event: this.event, delivered: this.delivered, failed: this.failed, dropped: this.dropped, queued: this.waiting };
  }
}

export class EventHub<M extends EventMap> {
  private readonly subscribers = new Map<keyof M, Subscriber<never>[]>();
  private readonly log: Logger;
  private counter = 0;

  constructor(logger: Logger = silentLogger) {
    this.log = logger;
  }

  /** Subscribes; the returned function unsubscribes (events still queued for it are discarded). */
  on<K extends keyof M & string>(event: K, listener: Listener<M[K]>, options: SubscribeOptions = {}): () => void {
    const sub = new Subscriber<M[K]>(options.name ?? `${event}#${++this.counter}`, event, listener, options.maxQueued ?? 10_000, this.log);
    const list = this.subscribers.get(event) ?? [];
    this.subscribers.set(event, [...list, sub as unknown as Subscriber<never>]);
    return () => {
      sub.closed = true;
      const now = this.subscribers.get(event) ?? [];
      this.subscribers.set(
        event,
        now.filter((s) => s !== (sub as unknown as Subscriber<never>)),
      );
    };
  }

  /** Queues the event for every subscriber and returns at once; never throws because of a listener. */
  emit<K extends keyof M & string>(event: K, payload: M[K]): void {
    const list = this.subscribers.get(event);
    if (!list) return;
    for (const s of list) (s as unknown as Subscriber<M[K]>).push(payload);
  }

  /** True when anything listens to the event (so an emitter can skip building a payload nobody wants). */
  listened(event: keyof M & string): boolean {
    return (this.subscribers.get(event)?.length ?? 0) > 0;
  }

  /** Per subscriber: delivered, failed, dropped, still queued. */
  stats(): SubscriberStats[] {
    return [...this.subscribers.values()].flat().map((s) => s.stats());
  }

  /**
   * Resolves once every subscriber has handled (or dropped) what was emitted before the call, or
   * when `timeoutMs` has passed; true when everything was handled. Events emitted meanwhile are
   * not waited for, so a busy gateway cannot keep a shutdown waiting.
   */
  async settled(timeoutMs = 5_000): Promise<boolean> {
    const targets = [...this.subscribers.values()].flat().map((s) => ({ s, target: s.pushed }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (targets.every(({ s, target }) => s.closed || s.done >= target)) return true;
      if (Date.now() >= deadline) return false;
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
  }
}
