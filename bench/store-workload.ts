/**
 * A realistic transaction log workload for the store benches: three instruments polled for the
 * default poll's six parameters (real ProPar frames built by the codec, values decoded by the
 * parameter DB as the gateway does), a setpoint write every 100 transactions and a timed-out
 * poll every 250. Times advance 500 ms / 3 per transaction, as three instruments polled at the
 * default 500 ms interval would.
 */
import { buildRequest, buildValues, encodeBinaryFrame, encodeMessage, encodeValue, type WireType } from '../src/codec/index.js';
import { DEFAULT_POLL_PARAMETERS } from '../src/config/index.js';
import type { LoggedTransaction } from '../src/gateway/index.js';
import { describeParam, resolveUnit, type ObservedParam } from '../src/observe/index.js';
import { resolveParam, type ParamDef } from '../src/params/index.js';
import { newId } from '../src/shared/index.js';

const POLL: ParamDef[] = DEFAULT_POLL_PARAMETERS.map((p) => resolveParam(p));
const SETPOINT = resolveParam('setpoint');

function frame(seq: number, node: number, data: Uint8Array): Uint8Array {
  return encodeBinaryFrame({ kind: 'data', seq, node, data });
}

function valueOf(def: ParamDef, i: number): number {
  switch (def.valueType) {
    case 'float':
      return Math.fround(10 + ((i * 7) % 1000) / 37);
    case 'u8':
      return i % 3;
    case 'u16':
      return (i * 13) % 32000;
    case 'u32':
      return (i * 101) % 16_777_215;
    default:
      return 0;
  }
}

function param(def: ParamDef, raw: Uint8Array | undefined): ObservedParam {
  const input = { process: def.process, fbnr: def.fbnr, wireType: def.wireType as WireType };
  return resolveUnit(describeParam(raw ? { ...input, raw } : input), 'ln/min');
}

/** Transaction `i` of the workload, starting at `t0Ms` + i * 500/3 ms. */
export function workloadTx(i: number, t0Ms: number): LoggedTransaction {
  const node = 3 + (i % 3);
  const seq = i & 0xff;
  const startedAt = t0Ms + (i * 500) / 3 + (i % 7) * 0.001;
  const base = { id: newId(), bus: 'main', mode: 'master' as const, node, seq, status: undefined, errorCode: undefined, startedAt };
  if (i % 100 === 99) {
    const raw = encodeValue('u16', (i * 17) % 32000);
    const req = encodeMessage(buildValues('sendWithStatus', [{ process: SETPOINT.process, fbnr: SETPOINT.fbnr, wireType: SETPOINT.wireType as WireType, raw }]));
    return {
      ...base, command: 1, commandName: 'write', purpose: 'write', outcome: 'ok', status: 0,
      requestBytes: frame(seq, node, req), replyBytes: frame(seq, node, Uint8Array.of(0x00, 0x00, 0x05)),
      endedAt: startedAt + 4.1, latencyMs: 4.1, attempts: 1, params: [param(SETPOINT, raw)], error: undefined,
    };
  }
  const request = frame(seq, node, encodeMessage(buildRequest(POLL.map((d) => ({ process: d.process, fbnr: d.fbnr, wireType: d.wireType as WireType })))));
  if (i % 250 === 249) {
    return {
      ...base, command: 4, commandName: 'read', purpose: 'poll', outcome: 'timeout', requestBytes: request, replyBytes: undefined,
      endedAt: startedAt + 300.2, latencyMs: undefined, attempts: 3, params: POLL.map((d) => param(d, undefined)),
      error: `no reply from node ${node} within 100 ms (3 attempts)`,
    };
  }
  const raws = POLL.map((d) => encodeValue(d.valueType, valueOf(d, i + d.dde)));
  const reply = frame(seq, node, encodeMessage(buildValues('send', POLL.map((d, j) => ({ process: d.process, fbnr: d.fbnr, wireType: d.wireType as WireType, raw: raws[j] as Uint8Array })))));
  return {
    ...base, command: 4, commandName: 'read', purpose: 'poll', outcome: 'ok', requestBytes: request, replyBytes: reply,
    endedAt: startedAt + 9.37, latencyMs: 9.37, attempts: 1, params: POLL.map((d, j) => param(d, raws[j])), error: undefined,
  };
}
