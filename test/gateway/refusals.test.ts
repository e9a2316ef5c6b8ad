/** A refused write is logged by the service once per client host and code, then counted: a client with the token cannot flood the log either. */
import { describe, expect, it } from 'vitest';
import { MasterGateway, MemorySink } from '../../src/gateway/index.js';
import { recordingLogger, type Line } from '../helpers/logger.js';
import { simulatorFactory } from '../../src/sim.js';


describe('master mode: refused writes', () => {
  it('logs the first refusal of a host and code in full, counts the rest, and writes accepted ones one by one', async () => {
    const lines: Line[] = [];
    const sims = simulatorFactory();
    const gw = new MasterGateway({
      buses: [{ name: 'main', port: 'sim://?nodes=3', bus: { replyTimeoutMs: 200 } }],
      poll: { parameters: [], intervalMs: 1000 },
    }, { simulator: sims, sink: new MemorySink(1000), logger: recordingLogger(lines) });
    try {
      await gw.start();
      await gw.discover();
      for (let port = 40_000; port < 40_100; port++) {
        await expect(gw.writeParam('3', 'setpoint', 40000, { source: `192.168.1.9:${port}` })).rejects.toMatchObject({ code: 'PARAM_INVALID_VALUE' });
      }
      await gw.writeParam('3', 'setpoint', 100, { source: '192.168.1.9:40001' });
      await gw.writeParam('3', 'setpoint', 200, { source: '192.168.1.9:40002' });
      // A huge value is cut short in the log line.
      await expect(gw.writeParam('3', 'setpoint', 'x'.repeat(50_000), { source: '10.0.0.1:1' })).rejects.toMatchObject({ code: 'PARAM_INVALID_VALUE' });
    } finally {
      await gw.close();
      for (const s of sims.simulators.values()) await s.close();
    }
    const refused = lines.filter((l) => l.msg?.startsWith('write refused'));
    expect(refused.map((l) => l.obj.source)).toEqual(['192.168.1.9:40000', '10.0.0.1:1']);
    expect(JSON.stringify(refused[1]).length).toBeLessThan(2000);
    expect(lines.filter((l) => l.msg?.startsWith('write main:3 setpoint='))).toHaveLength(2);
    const summaries = lines.filter((l) => l.obj.refusedNotLogged !== undefined);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]?.obj).toMatchObject({ write: true, refusedNotLogged: 99, sources: [{ source: '192.168.1.9', code: 'PARAM_INVALID_VALUE', count: 99 }] });
  });
});
