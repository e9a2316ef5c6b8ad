/**
 * Finding the instruments on a bus: the walk of PROTOCOL.md section 1, each step read until two
 * answers agree, walked again when the bus comes back, and every `discoveryRetryMs` while nobody
 * answers at node 128 (said once, with a reminder, not on every attempt).
 */
import { Priority } from '../../bus/index.js';
import { paramByDde, type ParamDef } from '../../params/index.js';
import { sleep, type Logger } from '../../shared/index.js';
import { readAgreed } from './agree.js';
import type { BusHandle } from './buses.js';
import type { IdentityReader } from './identity.js';
import type { MasterOptions } from './options.js';
import type { Instrument, Registry } from './registry.js';

const PNA = 2;
const NNA = 4;
const LOCAL = 128;

export class Discovery {
  constructor(
    private readonly options: MasterOptions,
    private readonly registry: Registry,
    private readonly identity: IdentityReader,
    /** Adds an instrument and starts polling it (the service's). */
    private readonly addInstrument: (handle: BusHandle, node: number) => Instrument,
    private readonly signal: AbortSignal,
    private readonly log: Logger,
  ) {}

  /** Walks the bus, or joins the walk under way (`force`: a new one after it). */
  discover(handle: BusHandle, force = false): Promise<number[]> {
    if (handle.discovery && !force) return handle.discovery;
    if (handle.config.discover === false) {
      handle.discovered = true;
      return Promise.resolve(this.registry.onBus(handle).map((i) => i.node));
    }
    const run = this.walk(handle).finally(() => {
      if (handle.discovery === run) handle.discovery = undefined;
    });
    handle.discovery = run;
    return run;
  }

  /** A walk in the background (the bus opened, a retry): its failure is logged at debug level, since the walk logs what it finds itself. */
  start(handle: BusHandle, force = false): void {
    void this.discover(handle, force).catch((err: unknown) => this.log.debug({ err, bus: handle.name }, 'discovery walk ended without a result'));
  }

  /**
   * Walks the bus as PROTOCOL.md section 1 describes: the local address from
   * node 128, the first node that answers at or below it, then the chain of
   * next-node addresses until it loops or a node does not answer.
   */
  private async walk(handle: BusHandle): Promise<number[]> {
    const log = this.log.child({ bus: handle.name });
    const pna = paramByDde(PNA) as ParamDef;
    const nna = paramByDde(NNA) as ParamDef;
    const scan = { priority: Priority.Scan, purpose: 'scan' } as const;
    // Each walk step is read until two answers agree: a lost reply must not hide an instrument, and a
    // garbled one (ProPar has no checksum) must not invent one. An error frame (absent node) is final.
    const agreed = (node: number, params: ParamDef[]) => readAgreed(handle.client, node, params, { ...scan, attempts: this.options.agreeAttempts });
    const local = await agreed(LOCAL, [pna]);
    // A close during the walk (a stop, or a start that failed later, such as a port in use) is no
    // news about the bus: say nothing, and do not try again.
    if (this.signal.aborted) return [];
    const localNode = local.values.get(PNA);
    if (typeof localNode !== 'number' || !isNodeAddress(localNode)) {
      const say = handle.silence.seen('no answer at node 128');
      if (say) {
        const retryS = this.options.discoveryRetryMs / 1000;
        const last = local.reads.at(-1)?.[0];
        log.warn(
          {
            error: last && !last.ok ? last.error.message : localNode !== undefined ? `node address ${localNode} is not 1..127` : local.reads.length > 1 ? 'answers disagree' : undefined,
            attempts: say.attempts,
            since: new Date(say.since).toISOString(),
          },
          say.first ? `discovery: no instrument answers at node 128; trying again every ${retryS} s` : `discovery: still no instrument answers at node 128; trying every ${retryS} s`,
        );
      }
      this.retry(handle);
      return [];
    }
    const silent = handle.silence.over();
    if (silent) log.info({ attempts: silent.attempts, silentForS: silent.forS }, 'discovery: an instrument answers at node 128 again');
    handle.localNode = localNode;
    let start = localNode;
    for (let n = 1; n < localNode; n++) {
      // A quick probe of the addresses below the local one (see `probeTimeoutMs`).
      const [r] = await handle.client.read(n, [pna], { ...scan, retries: 0, replyTimeoutMs: this.options.probeTimeoutMs });
      if (r?.ok && r.reading.value === n) {
        start = n;
        break;
      }
    }
    // A node is listed only when it said twice that it is at the address asked, and the walk follows a
    // next-node address only when two reads agree on it.
    const found: number[] = [];
    const seen = new Set<number>();
    const chain = async (from: number) => {
      for (let node = from; isNodeAddress(node) && !seen.has(node) && !this.signal.aborted; ) {
        seen.add(node);
        const step = await agreed(node, [pna, nna]);
        if (step.values.get(PNA) !== node) break;
        found.push(node);
        const next = step.values.get(NNA);
        if (typeof next !== 'number') break;
        node = next;
      }
    };
    await chain(start);
    // The local instrument is on the bus (it answered at 128) even when the chain broke before reaching it.
    if (!found.includes(localNode)) await chain(localNode);
    for (const node of found) {
      const inst = this.addInstrument(handle, node);
      await this.identity.read(inst);
      // Channel 1's identity added the other channels (Registry.onChannels): each reads its own.
      for (const ch of this.registry.onBus(handle).filter((i) => i.node === node && i.channel > 1)) await this.identity.read(ch);
    }
    handle.discovered = true;
    log.info({ nodes: found }, `discovery on ${handle.name}: ${found.length} instrument(s) at node(s) ${found.join(', ')}`);
    return found;
  }

  private retry(handle: BusHandle): void {
    void sleep(this.options.discoveryRetryMs, this.signal).then(
      () => {
        if (handle.transport.state === 'open') this.start(handle, true);
      },
      // The gateway is closing: no walk is due.
      () => undefined,
    );
  }
}

/** A bus address an instrument can have (128 is "the local one", not an address). */
function isNodeAddress(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 127;
}
