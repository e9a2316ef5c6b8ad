/**
 * What waits for the broker, bounded: one message per topic (a newer message for the same topic
 * replaces the older one, which is counted as dropped), at most `maxTopics` topics (beyond, the
 * oldest topic's message is dropped, counted). Publishing never waits on the broker: `put` only
 * stores, and the link drains the outbox while it is connected, a few messages in flight at a time.
 */
export interface OutMessage {
  readonly topic: string;
  readonly payload: string | Buffer;
  readonly retain: boolean;
  readonly qos: 0 | 1 | 2;
  /** MQTT 5 publish properties (a response's correlation data). */
  readonly properties?: { readonly correlationData?: Buffer };
}

export class Outbox {
  private readonly waiting = new Map<string, OutMessage>();
  /** Messages replaced by a newer one of their topic, or pushed out by the bound. */
  dropped = 0;

  constructor(private readonly maxTopics: number) {}

  get size(): number {
    return this.waiting.size;
  }

  /** `key`: what a newer message replaces by (default the topic; command results use one each). */
  put(m: OutMessage, key: string = m.topic): void {
    if (this.waiting.delete(key)) this.dropped++;
    else if (this.waiting.size >= this.maxTopics) {
      const oldest = this.waiting.keys().next();
      if (!oldest.done) {
        this.waiting.delete(oldest.value);
        this.dropped++;
      }
    }
    this.waiting.set(key, m);
  }

  /** The oldest waiting message, taken out. */
  take(): { key: string; message: OutMessage } | undefined {
    const first = this.waiting.entries().next();
    if (first.done) return undefined;
    this.waiting.delete(first.value[0]);
    return { key: first.value[0], message: first.value[1] };
  }

  /** Puts back a message whose publish failed, unless a newer one of its topic is waiting. */
  putBack(key: string, m: OutMessage): void {
    if (this.waiting.has(key)) return;
    if (this.waiting.size >= this.maxTopics) {
      this.dropped++;
      return;
    }
    this.waiting.set(key, m);
  }
}
