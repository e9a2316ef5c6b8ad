import type { ObservedParam, Transaction } from '../../observe/index.js';
import { paramByDde } from '../../params/index.js';
import { GatewayError } from '../../shared/index.js';
import type { InstrumentView } from '../service.js';
import { IDENTITY_PARAMS, buildValueView, findInstrument, jsonValue, setIdentityField, type InstrumentIdentity, type ValueView } from '../views.js';
import { observedValues } from './observed.js';

/** A value as it was seen on the wire. */
export interface Seen {
  readonly param: ObservedParam;
  /** ms since the epoch. */
  readonly time: number;
}

interface NodeState {
  readonly node: number;
  lastSeen: number;
  lastError?: { code: string; message: string };
  readonly values: Map<number, Seen>;
}

/** What one observed transaction taught, for the events. */
export interface Learned {
  /** The instrument it belongs to: its node, with 128 folded into the real node once known. */
  readonly node: number;
  /** The values it stated (a read answered, a write acknowledged), with the time they were seen (ms). */
  readonly values?: { readonly params: readonly ObservedParam[]; readonly time: number };
}

const LOCAL = 128;
/** Primary node address: read at node 128, it tells which real node answers there. */
const PNA_DDE = 2;

/**
 * What was seen per node: values with their times, errors, when it last answered, and the
 * identity as observed. Node 128 (the instrument at the end of the master's RS232 line) is the
 * same instrument as its real node once its PNA was seen read at 128. Answers queries only: it
 * emits nothing and owns no timer.
 */
export class ObservedState {
  private readonly nodes = new Map<number, NodeState>();
  /** The real node that answers at 128, once a PNA read at 128 was observed. */
  private localNode: number | undefined;

  constructor(
    private readonly bus: string,
    /** An instrument is online while seen within this, ms. */
    readonly onlineWindowMs: number,
  ) {}

  /** Instruments, their values and errors, from what the master was seen to read and write. */
  learn(t: Transaction): Learned | undefined {
    if (t.node === undefined || !t.reply || !t.request) return undefined;
    const replyMs = t.reply.time / 1000;
    if (t.outcome === 'error-frame') {
      // An absent node answered by the interface: not an instrument. Known ones note the error.
      const known = this.nodes.get(t.node);
      if (known && t.errorFrame) known.lastError = { code: 'BUS_ERROR_FRAME', message: `error frame ${t.errorFrame.code} (${t.errorFrame.message})` };
      return undefined;
    }
    if (t.outcome !== 'ok' && t.outcome !== 'status') return undefined;
    const state = this.nodeState(t.node);
    state.lastSeen = Math.max(state.lastSeen, replyMs);
    if (t.outcome === 'status' && t.status) {
      state.lastError = { code: 'BUS_STATUS', message: `status ${t.status.code} ${t.status.key} (${t.status.message})` };
    } else if (t.outcome === 'ok') {
      delete state.lastError;
    }
    const seen = observedValues(t);
    if (seen) {
      for (const p of seen.params) {
        state.values.set(p.dde as number, { param: p, time: seen.time / 1000 });
        if (t.node === LOCAL && p.dde === PNA_DDE && typeof p.value === 'number' && p.value >= 1 && p.value <= 127) this.localNode = p.value;
      }
    }
    const node = this.belongsTo(t.node);
    return seen ? { node, values: { params: seen.params, time: seen.time / 1000 } } : { node };
  }

  /** The listed instrument a node's traffic belongs to. */
  belongsTo(node: number): number {
    return node === LOCAL && this.localNode !== undefined ? this.localNode : node;
  }

  private nodeState(node: number): NodeState {
    let s = this.nodes.get(node);
    if (!s) {
      s = { node, lastSeen: 0, values: new Map() };
      this.nodes.set(node, s);
    }
    return s;
  }

  /** Values of a node, with what was seen at 128 merged in when 128 is that node. Newest wins. */
  valuesOf(node: number): Map<number, Seen> {
    const own = this.nodes.get(node)?.values ?? new Map<number, Seen>();
    const local = node !== LOCAL && node === this.localNode ? this.nodes.get(LOCAL)?.values : undefined;
    if (!local) return own;
    const out = new Map(own);
    for (const [dde, v] of local) {
      const mine = out.get(dde);
      if (!mine || mine.time < v.time) out.set(dde, v);
    }
    return out;
  }

  /** Nodes listed as instruments: every node that answered, with 128 folded into its real node once known. */
  listed(): number[] {
    const nodes = [...this.nodes.keys()].filter((n) => !(n === LOCAL && this.localNode !== undefined));
    if (this.localNode !== undefined && this.nodes.has(LOCAL) && !nodes.includes(this.localNode)) nodes.push(this.localNode);
    return nodes.sort((a, b) => a - b);
  }

  /** A listed node by reference (`3`, `128`, `bus:3`); GATEWAY_NODE_UNKNOWN when none was seen. */
  find(ref: string): number {
    const listed = this.listed().map((node) => ({ id: `${this.bus}:${node}`, bus: this.bus, node, channel: 1, channels: 1, local: node === this.localNode }));
    return findInstrument(ref, listed, (_ref, text) => {
      throw new GatewayError(
        'GATEWAY_NODE_UNKNOWN',
        `no instrument at node ${text} has been seen on the wire; seen: ${listed.map((n) => n.id).join(', ') || 'none yet'}`,
        { node: text, known: listed.map((n) => n.id) },
      );
    }).node;
  }

  /** When the node (or 128, when it is that node) last answered, and its last error. */
  stateOf(node: number): { lastSeen: number; lastError?: { code: string; message: string } } {
    const own = this.nodes.get(node);
    const local = node === this.localNode ? this.nodes.get(LOCAL) : undefined;
    const newest = [own, local].filter((s): s is NodeState => s !== undefined).sort((a, b) => b.lastSeen - a.lastSeen)[0];
    return { lastSeen: newest?.lastSeen ?? 0, ...(newest?.lastError ? { lastError: newest.lastError } : {}) };
  }

  identityOf(values: Map<number, Seen>): InstrumentIdentity {
    const identity: InstrumentIdentity = {};
    for (const [field, dde] of IDENTITY_PARAMS) {
      const v = values.get(dde)?.param.value;
      if (v !== undefined) setIdentityField(identity, field, jsonValue(v));
    }
    return identity;
  }

  /** Online: the instrument side open and the node seen within the online window. */
  isOnline(node: number, instrumentOpen: boolean, now: number): boolean {
    const { lastSeen } = this.stateOf(node);
    return instrumentOpen && lastSeen > 0 && now - lastSeen <= this.onlineWindowMs;
  }

  view(node: number, instrumentOpen: boolean, now: number): InstrumentView {
    const values = this.valuesOf(node);
    const identity = this.identityOf(values);
    const state = this.stateOf(node);
    const out: Record<string, ValueView> = {};
    for (const [dde, seen] of [...values.entries()].sort((a, b) => a[0] - b[0])) {
      const v = valueView(dde, seen, identity);
      if (v) out[v.key] = v;
    }
    return {
      id: `${this.bus}:${node}`,
      bus: this.bus,
      node,
      online: this.isOnline(node, instrumentOpen, now),
      ...(state.lastSeen > 0 ? { lastSeen: new Date(state.lastSeen).toISOString() } : {}),
      ...(state.lastError ? { lastError: state.lastError } : {}),
      identity,
      values: out,
      // The bridge polls nothing: these are the parameters the master was seen to read or write.
      polling: { parameters: Object.keys(out), intervalMs: 0 },
    };
  }
}

/** Whether a seen parameter has a view: a decoded value of a parameter the database knows. */
export function hasView(p: ObservedParam, dde: number | undefined = p.dde): p is ObservedParam & { readonly value: NonNullable<ObservedParam['value']>; readonly key: string } {
  return p.value !== undefined && p.key !== undefined && dde !== undefined && paramByDde(dde) !== undefined;
}

/** A seen value as the API shows it; undefined for parameters the database does not know. */
export function valueView(dde: number, seen: Seen, identity: InstrumentIdentity): ValueView | undefined {
  const p = seen.param;
  const def = paramByDde(dde);
  if (!def || !hasView(p, dde)) return undefined;
  return buildValueView(def, { raw: (p.raw ?? '').replace(/\s+/g, ''), value: p.value, time: seen.time, cached: true, ...(p.label ? { label: p.label } : {}) }, identity);
}
