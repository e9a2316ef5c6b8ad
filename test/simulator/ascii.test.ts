import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.sim.close();
  h = undefined;
});

describe('ASCII mode, with the manual examples (node 3)', () => {
  it('reads measure 50 % and writes the setpoint with acknowledgement', async () => {
    h = harness({ protocol: 'ascii', instruments: [{ node: 3, noise: 0, values: { setpoint: 16000, measure: 16000 } }] });
    expect(await h.master.ascii(':06030401210120\r\n')).toBe(':06030201213E80\r\n');
    expect(await h.master.ascii(':06030101213E80\r\n')).toBe(':0403000005\r\n');
  });

  it('reads the counter value as a float', async () => {
    h = harness({ protocol: 'ascii', instruments: [{ node: 3, noise: 0, values: { counterValue: 5023.96 } }] });
    expect(await h.master.ascii(':06030468416841\r\n')).toBe(':0803026841459CFFAE\r\n');
  });

  it('takes the chained unlock / polynomial / lock write and answers INDEX 0x1C', async () => {
    h = harness({ protocol: 'ascii' });
    expect(await h.master.ascii(':1D0301800A4081C500000000C63F800000C7000000004800000000000A52\r\n')).toBe(':040300001C\r\n');
    expect(h.sim.instruments.get(3)?.get('polynomialConstantB')).toBe(1);
  });

  it('reads and writes the control mode at node 128', async () => {
    h = harness({ protocol: 'ascii', instruments: [{ node: 3, values: { controlMode: 1 } }] });
    expect(await h.master.ascii(':06800401040104\r\n')).toBe(':058002010401\r\n');
    expect(await h.master.ascii(':058001010400\r\n')).toBe(':0480000004\r\n');
  });

  it('answers the chained identity read like the manual (0x37 bytes follow for a 9-char serial "M6...")', async () => {
    h = harness({ protocol: 'ascii', instruments: [{ node: 3, serial: 'M6000001A' }] });
    const reply = await h.master.ascii(':1A0304F1EC7163006D71660001AE0120CF014DF0017F077101710A\r\n');
    expect(reply.startsWith(':370302F1EC004D36')).toBe(true);
    expect(reply.slice(13, 31)).toBe(Buffer.from('M6000001A').toString('hex').toUpperCase());
    expect(reply.endsWith(Buffer.from('EtOH 15mba').toString('hex').toUpperCase() + '\r\n')).toBe(true);
  });

  it('answers an absent node with the :01EE error message', async () => {
    h = harness({ protocol: 'ascii' });
    expect(await h.master.ascii(':06050401210120\r\n')).toBe(':0105\r\n');
  });

  it('accepts lower-case hex', async () => {
    h = harness({ protocol: 'ascii', instruments: [{ node: 3, noise: 0, values: { setpoint: 16000, measure: 16000 } }] });
    expect(await h.master.ascii(':06030401210120\r\n'.toLowerCase())).toBe(':06030201213E80\r\n');
  });
});
