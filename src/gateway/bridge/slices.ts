/**
 * Work of the bridge's decoding side, done in short turns of the event loop so that the
 * forwarding gets the loop between them (issue 14, part 5). Everything runs on one thread: a
 * chunk that arrives while a piece of work runs is read, and forwarded, only when that piece
 * returns to the loop. So the work is queued and done one item per turn (`setImmediate`), as many
 * more as fit in `budgetMs`; between two turns libuv polls the ports without waiting, and a
 * chunk that arrived meanwhile is forwarded before the next item. Items are handled in the order
 * they were queued.
 */
export class SliceQueue<T> {
  private items: T[] = [];
  private head = 0;
  private scheduled = false;
  private readonly run = (): void => this.turn();

  constructor(
    private readonly handle: (item: T) => void,
    /** Time after which a turn hands the loop back, though items wait (at least one item a turn). */
    private readonly budgetMs: number,
  ) {}

  /** Items waiting. */
  get waiting(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  /** Handles every waiting item now (a close; an item that must come after those queued). */
  flush(): void {
    while (this.head < this.items.length) this.next();
    this.reset();
  }

  private turn(): void {
    this.scheduled = false;
    const until = performance.now() + this.budgetMs;
    do this.next();
    while (this.head < this.items.length && performance.now() < until);
    if (this.head < this.items.length) {
      this.scheduled = true;
      setImmediate(this.run);
    } else this.reset();
  }

  private next(): void {
    const item = this.items[this.head] as T;
    this.items[this.head] = undefined as T;
    this.head++;
    // The handler reports its own failures; one that throws must not stop the queue.
    try {
      this.handle(item);
    } catch {
      // nothing to do here
    }
  }

  private reset(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
  }
}
