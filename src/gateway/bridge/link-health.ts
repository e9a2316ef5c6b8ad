import type { Direction } from '../../observe/index.js';
import type { Logger } from '../../shared/index.js';
import type { Transport, TransportStatus } from '../../transport/index.js';
import type { BridgeSide, GatewayEvents, LinkEvent } from '../events.js';

/** One side of the bridge: its port and what is known about its link. */
export interface SideHandle {
  readonly side: BridgeSide;
  readonly address: string;
  readonly transport: Transport;
  /** Bytes read from this side travel in this direction. */
  readonly direction: Direction;
  opened: number;
  down: boolean;
}

export interface LinkHealthOptions {
  readonly bus: string;
  readonly masterSilenceMs: number;
  readonly maxEvents: number;
}

export interface LinkHealthHooks {
  /** What this side sends from now on does not continue what it sent before (it went down). */
  readonly discontinuity: (direction: Direction) => void;
}

/**
 * The health of the two links: each side's transport state (a `bus` event per change), the
 * link event list (`open`, `reopened`, `down`, `master-silent`, `master-resumed`,
 * `capture-failed`, `decode-error`: logged, kept for GET /bus, and a `bridge` event each), and
 * the master that stops polling.
 */
export class LinkHealth {
  /** Newest last, at most maxEvents. */
  private readonly list: LinkEvent[] = [];
  private masterState: 'unknown' | 'active' | 'silent' = 'unknown';
  private silentSince = 0;
  private decodeErrors = 0;

  constructor(
    readonly sides: Record<BridgeSide, SideHandle>,
    private readonly options: LinkHealthOptions,
    private readonly log: Logger,
    private readonly events: GatewayEvents,
    private readonly hooks: LinkHealthHooks,
  ) {}

  get masterSilent(): boolean {
    return this.masterState === 'silent';
  }

  /** The link events kept, newest last. */
  recorded(): LinkEvent[] {
    return [...this.list];
  }

  /** A side's transport changed state. */
  onState(h: SideHandle, s: TransportStatus): void {
    if (this.events.listened('bus')) {
      this.events.emit('bus', {
        bus: this.options.bus,
        kind: 'state',
        side: h.side,
        state: s.state,
        reconnects: s.reconnects,
        ...(s.lastError ? { reason: s.lastError } : {}),
        ...(s.retryAt ? { retryAt: new Date(s.retryAt).toISOString() } : {}),
      });
    }
    if (s.state === 'open') {
      const again = h.opened++ > 0 || h.down;
      h.down = false;
      this.record(h.side, again ? 'reopened' : 'open', again ? `${h.side} port ${h.address} open again (reconnect ${s.reconnects})` : `${h.side} port ${h.address} open`);
    } else if (s.state === 'waiting' && !h.down) {
      h.down = true;
      const reason = s.lastError ?? 'closed';
      const other = h.side === 'master' ? this.sides.instrument : this.sides.master;
      const dropped = h.side === 'master' ? 'bytes from the instrument' : 'bytes from the master';
      this.record(
        h.side,
        'down',
        `${h.side} port ${h.address} is down: ${reason}; reopening with backoff${s.retryAt ? ` (next attempt ${new Date(s.retryAt).toISOString()})` : ''}; the ${other.side} side stays open and ${dropped} are dropped meanwhile`,
      );
      // What this side sends after it returns does not continue what it sent before.
      if (h.opened > 0) this.hooks.discontinuity(h.direction);
    }
  }

  /** Reports the master going silent after it used to poll (`masterFrames` > 0), and coming back. */
  checkMaster(now: number, lastMasterAt: number | undefined, masterFrames: number): void {
    const last = lastMasterAt;
    if (last === undefined) return;
    if (this.masterState === 'unknown') this.masterState = 'active';
    const limit = this.options.masterSilenceMs;
    if (this.masterState === 'active' && now - last > limit && masterFrames > 0) {
      this.masterState = 'silent';
      this.silentSince = now;
      this.record(
        'master',
        'master-silent',
        `the master has sent nothing for ${Math.round((now - last) / 1000)} s (over masterSilenceMs ${limit}); it used to poll; last byte at ${new Date(last).toISOString()}`,
      );
    } else if (this.masterState === 'silent' && last > this.silentSince) {
      this.masterState = 'active';
      this.record('master', 'master-resumed', `the master sends again after ${Math.round((last - this.silentSince + limit) / 1000)} s of silence`);
    }
  }

  /** Decoding went wrong: the first, then every 1000th, so a decoder bug cannot flood the log. */
  decodeError(err: unknown): void {
    this.decodeErrors++;
    if (this.decodeErrors === 1 || this.decodeErrors % 1000 === 0) {
      const message = err instanceof Error ? err.message : String(err);
      this.record('decoder', 'decode-error', `decoding failed (${this.decodeErrors} time(s) so far): ${message}; forwarding is not affected`);
    }
  }

  /** Records a link event: kept, logged, and emitted. */
  record(side: LinkEvent['side'], kind: LinkEvent['kind'], reason: string): void {
    const e: LinkEvent = { time: new Date().toISOString(), side, kind, reason };
    this.list.push(e);
    if (this.list.length > this.options.maxEvents) this.list.splice(0, this.list.length - this.options.maxEvents);
    const warn = kind === 'down' || kind === 'master-silent' || kind === 'capture-failed' || kind === 'decode-error' || kind === 'inject-backoff' || kind === 'threads-failed';
    try {
      if (warn) this.log.warn({ side, event: kind, at: e.time }, reason);
      else this.log.info({ side, event: kind, at: e.time }, reason);
    } catch {
      // A logger that throws must not stop the bridge; there is no other place to say so.
    }
    if (this.events.listened('bridge')) {
      const h = side === 'instrument' || side === 'master' ? this.sides[side] : undefined;
      this.events.emit('bridge', { ...e, bus: this.options.bus, ...(h ? { sideState: { side: h.side, state: h.transport.state } } : {}) });
    }
  }
}
