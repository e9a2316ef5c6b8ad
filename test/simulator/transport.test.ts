import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireType, buildRequest, buildValues, createDeframer, encodePacket, encodeValue, frameToPacket, type Frame } from '../../src/codec/index.js';
import { parseFaults, parseHostPort, servePty, serveTcp, socatAvailable } from '../../simulator/cli.js';

/** Collects frames from a byte source until `n` have arrived. */
function collector(on: (listener: (b: Buffer) => void) => void): (n: number) => Promise<Frame[]> {
  const deframer = createDeframer('binary');
  const frames: Frame[] = [];
  let wake: (() => void) | undefined;
  on((b) => {
    for (const ev of deframer.push(b)) if (ev.kind === 'frame') frames.push(ev.frame);
    wake?.();
  });
  return async (n) => {
    const deadline = Date.now() + 3000;
    while (frames.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out: ${frames.length}/${n} frames`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
    return frames;
  };
}

const READ_MEASURE = buildRequest([{ process: 1, fbnr: 0, wireType: WireType.Int16 }]);
const WRITE_SETPOINT = buildValues('sendWithStatus', [{ process: 1, fbnr: 1, wireType: WireType.Int16, raw: encodeValue('u16', 16000) }]);

describe('TCP server', () => {
  it('gives each connection the bus', async () => {
    const server = await serveTcp({ nodes: [3] }, '127.0.0.1', 0);
    try {
      const socket = net.connect(server.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const wait = collector((l) => socket.on('data', l));
      socket.write(encodePacket({ seq: 1, node: 128, message: WRITE_SETPOINT }, 'binary'));
      socket.write(encodePacket({ seq: 2, node: 3, message: READ_MEASURE }, 'binary'));
      const frames = await wait(2);
      expect(frameToPacket(frames[0]!).message).toEqual({ kind: 'status', status: 0, index: 5 });
      expect(frameToPacket(frames[1]!)).toMatchObject({ seq: 2, node: 3, message: { kind: 'send' } });
      expect(server.simulator.instruments.get(3)?.get('setpoint')).toBe(16000);
      socket.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('option parsing', () => {
  it('parses --faults and --tcp', () => {
    expect(parseFaults('drop=0.05,delay=0.02,delay-ms=300,garble=0.01,split=0.3,status=0.01')).toEqual({
      dropReply: 0.05,
      delay: 0.02,
      delayMs: 300,
      garble: 0.01,
      split: 0.3,
      statusError: 0.01,
    });
    expect(() => parseFaults('boom=1')).toThrow(/bad fault/);
    expect(parseHostPort('0.0.0.0:4001')).toEqual({ host: '0.0.0.0', port: 4001 });
    expect(parseHostPort('4002')).toEqual({ host: '127.0.0.1', port: 4002 });
  });
});

const hasSocat = await socatAvailable();
if (!hasSocat) {
  if (process.env.CI === 'true') throw new Error('socat is required for the pty tests in CI (apt-get install socat)');
  console.warn('socat not found: skipping the simulator pty tests (install socat to run them)');
}

describe.skipIf(!hasSocat)('pty server (socat)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'flowbus-sim-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is opened with serialport exactly like /dev/ttyUSB0: a read and a write', async () => {
    const server = await servePty({ nodes: [3], baud: 38400 }, join(dir, 'ttyFLOW'));
    const port = new SerialPort({ path: server.path, baudRate: 38400, autoOpen: false });
    try {
      await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
      const wait = collector((l) => port.on('data', l));
      port.write(encodePacket({ seq: 1, node: 128, message: WRITE_SETPOINT }, 'binary'));
      port.write(encodePacket({ seq: 2, node: 128, message: READ_MEASURE }, 'binary'));
      const frames = await wait(2);
      expect(frameToPacket(frames[0]!)).toEqual({ seq: 1, node: 128, message: { kind: 'status', status: 0, index: 5 } });
      expect(frameToPacket(frames[1]!)).toMatchObject({ seq: 2, node: 128, message: { kind: 'send' } });
      expect(server.simulator.instruments.get(3)?.get('setpoint')).toBe(16000);
    } finally {
      if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
      await server.close();
    }
  });
});
