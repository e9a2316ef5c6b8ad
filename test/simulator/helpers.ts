import type { Duplex } from 'node:stream';
import {
  buildRequest,
  createDeframer,
  encodePacket,
  frameToPacket,
  type Frame,
  type Message,
  type ParamAddress,
  type Protocol,
} from '../../src/codec/index.js';
import { fromHex, toHex } from '../../src/shared/index.js';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../simulator/index.js';

/** A master on the simulator's stream that talks only through the codec. */
export class Master {
  readonly frames: { frame: Frame; raw: Uint8Array; at: number }[] = [];
  readonly chunks: { bytes: Uint8Array; at: number }[] = [];
  private readonly waiters: (() => void)[] = [];
  private seq = 0;

  constructor(
    readonly stream: Duplex,
    readonly protocol: Protocol = 'binary',
  ) {
    const deframer = createDeframer(protocol);
    stream.on('data', (chunk: Buffer) => {
      const at = performance.now();
      this.chunks.push({ bytes: Uint8Array.from(chunk), at });
      for (const ev of deframer.push(chunk)) if (ev.kind === 'frame') this.frames.push({ frame: ev.frame, raw: ev.raw, at });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  nextSeq(): number {
    this.seq = (this.seq % 255) + 1;
    return this.seq;
  }

  write(bytes: Uint8Array | string): void {
    this.stream.write(typeof bytes === 'string' ? fromHex(bytes) : bytes);
  }

  writeAscii(line: string): void {
    this.stream.write(Buffer.from(line, 'latin1'));
  }

  send(node: number, message: Message, seq = this.nextSeq()): number {
    this.write(encodePacket({ seq, node, message }, this.protocol));
    return seq;
  }

  /** Waits until `count` frames have arrived in total (or fails after `ms`). */
  async waitFrames(count: number, ms = 2000): Promise<Frame[]> {
    const deadline = performance.now() + ms;
    while (this.frames.length < count) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} frame(s), have ${this.frames.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.frames.map((f) => f.frame);
  }

  /** Sends one message and returns the reply frame. */
  async transact(node: number, message: Message): Promise<Frame> {
    const n = this.frames.length;
    this.send(node, message);
    await this.waitFrames(n + 1);
    return (this.frames[n] as { frame: Frame }).frame;
  }

  /** Sends raw request bytes and returns the reply frame's wire bytes as hex. */
  async raw(hex: string): Promise<string> {
    const n = this.frames.length;
    this.write(hex);
    await this.waitFrames(n + 1);
    return toHex((this.frames[n] as { raw: Uint8Array }).raw);
  }

  /** Sends an ASCII line and returns the reply line. */
  async ascii(line: string): Promise<string> {
    const n = this.frames.length;
    this.writeAscii(line);
    await this.waitFrames(n + 1);
    return Buffer.from((this.frames[n] as { raw: Uint8Array }).raw).toString('latin1');
  }

  /** Reads parameters and returns the reply message. */
  async read(node: number, params: ParamAddress[]): Promise<Message> {
    const f = await this.transact(node, buildRequest(params));
    return frameToPacket(f).message;
  }

  /** Resolves when nothing arrived for `ms`. */
  async quiet(ms = 30): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
  }
}

export interface Harness {
  sim: Simulator;
  master: Master;
  clock: { t: number };
  advance(ms: number): void;
}

/** A simulator with a manual clock and no noise unless asked. */
export function harness(options: SimulatorOptions = {}): Harness {
  const clock = { t: 1000 };
  const sim = createSimulator({ now: () => clock.t, ...options });
  const master = new Master(sim.stream, options.protocol ?? 'binary');
  return {
    sim,
    master,
    clock,
    advance(ms: number) {
      clock.t += ms;
    },
  };
}
