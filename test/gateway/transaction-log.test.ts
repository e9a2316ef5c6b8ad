import { afterEach, describe, expect, it, vi } from 'vitest';
import { MasterGateway, MemorySink, type LoggedTransaction } from '../../src/gateway/index.js';
import { Pairer } from '../../src/observe/index.js';
import { simulatorFactory } from '../../src/sim.js';

const running: { gw: MasterGateway; sims: ReturnType<typeof simulatorFactory> }[] = [];

/** Node 3, no discovery and no polling: only the test's own reads are on the bus. */
async function start() {
  const sims = simulatorFactory();
  const sink = new MemorySink(1000);
  const gw = new MasterGateway({ buses: [{ name: 'main', port: 'sim://?nodes=3', discover: false, nodes: [3] }], poll: { parameters: [] } }, { simulator: sims, sink });
  running.push({ gw, sims });
  await gw.start();
  return { gw, sink };
}

afterEach(async () => {
  vi.restoreAllMocks();
  for (const { gw, sims } of running.splice(0)) {
    await gw.close();
    for (const s of sims.simulators.values()) await s.close();
  }
});

const KEYS = ['id', 'bus', 'mode', 'node', 'seq', 'command', 'commandName', 'purpose', 'outcome', 'status', 'errorCode', 'requestBytes', 'replyBytes', 'startedAt', 'endedAt', 'latencyMs', 'attempts', 'params', 'error'];

describe('the transaction log of master mode, off the reader\'s path', () => {
  it('a read answers before its transaction\'s parameters are named; they are named in the next turn, in the bus\'s order', async () => {
    const { gw, sink } = await start();
    await gw.readParams('3', ['fMeasure']); // the instrument answers; its first transaction is logged
    await new Promise((r) => setImmediate(r));
    const replies = vi.spyOn(Pairer.prototype, 'reply');
    const seen: LoggedTransaction[] = [];
    gw.events.on('transaction', (t) => void seen.push(t));
    const result = await gw.readParams('3', ['fMeasure', 'fSetpoint', 'measure']);
    expect(result.values).toHaveLength(3);
    // The caller has its values; the pairer has not been asked yet.
    expect(replies).not.toHaveBeenCalled();
    // The simulator answers in a later turn of the event loop: the first one was named meanwhile.
    await gw.readParams('3', ['valveOutput']);
    expect(replies).toHaveBeenCalledTimes(1);
    await new Promise((r) => setImmediate(r));
    expect(replies).toHaveBeenCalledTimes(2);
    const [second, first] = sink.list({ limit: 2 }) as [LoggedTransaction, LoggedTransaction];
    expect(first.params.map((p) => p.key)).toEqual(['measure', 'fMeasure', 'fSetpoint']); // in the request's order (by process)
    expect(second.params.map((p) => p.key)).toEqual(['valveOutput']);
    expect(first.commandName).toBe('read');
    expect(first.command).toBe(4);
    await vi.waitFor(() => expect(seen).toHaveLength(2));
    expect(seen[0]?.params.map((p) => p.value)).toEqual(first.params.map((p) => p.value));
  });

  it('reading an entry before then names it (and every one before it) at once, with the same fields in the same order', async () => {
    const { gw, sink } = await start();
    await gw.readParams('3', ['fMeasure']);
    await gw.readParams('3', ['capacity', 'capacityUnit']);
    const [last, before] = sink.list({ limit: 2 }) as [LoggedTransaction, LoggedTransaction];
    // Read straight away: named on the first read of a named field, oldest first.
    expect(last.params.map((p) => p.key)).toEqual(['capacity', 'capacityUnit']);
    expect(before.params.map((p) => p.key)).toEqual(['fMeasure']);
    expect(Object.keys(last)).toEqual(KEYS);
    expect(JSON.parse(JSON.stringify({ ...last, requestBytes: undefined, replyBytes: undefined })).params[1].value).toBe('mg/min');
    expect(gw.recentTransactions({ limit: 1 })[0]?.params).toHaveLength(2);
  });
});

describe("a read's value views", () => {
  it('are built once, for the caller and the values event alike', async () => {
    const { gw } = await start();
    const events: { source: string; values: readonly unknown[] }[] = [];
    gw.events.on('values', (e) => void events.push(e));
    const result = await gw.readParams('3', ['fMeasure', 'capacity', 'fluidName']);
    await vi.waitFor(() => expect(events.filter((e) => e.source === 'read')).toHaveLength(1));
    const event = events.find((e) => e.source === 'read');
    expect(event?.values).toHaveLength(3);
    result.values.forEach((v, i) => expect(event?.values[i]).toBe(v));
  });
});
