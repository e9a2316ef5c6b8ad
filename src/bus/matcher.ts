import type { Frame, Message, Protocol } from '../codec/index.js';

/** What a sent request waits for. */
export interface PendingKey {
  readonly seq: number;
  readonly node: number;
}

/** The key a binary reply is matched by: (SEQ, NODE). A request to node 128 is answered with NODE 128. */
export function replyKey(seq: number, node: number | undefined): string {
  return `${seq}:${node ?? '-'}`;
}

/**
 * Whether a frame can be the reply to a pending request. Binary: same SEQ and
 * NODE. ASCII has no SEQ: same node, or an error frame (which carries none).
 */
export function frameMatches(protocol: Protocol, pending: PendingKey, frame: Frame): boolean {
  if (protocol === 'binary') return frame.seq === pending.seq && frame.node === pending.node;
  return frame.kind === 'error' ? frame.node === undefined || frame.node === pending.node : frame.node === pending.node;
}

/**
 * Whether `reply` has the shape of an answer to `request`: a read is answered by
 * values tagged with the request's own index bytes or by a status; a write with
 * status by a status. Used to reject late replies in ASCII mode, where the SEQ
 * cannot tell an old answer from a new one, and as a check in binary.
 */
export function plausibleReply(request: Message, reply: Message): boolean {
  if (reply.kind === 'error') return true;
  switch (request.kind) {
    case 'request': {
      if (reply.kind === 'status') return reply.status !== 0;
      if (reply.kind !== 'send') return false;
      const want = request.blocks.flatMap((b) => b.params.map((p) => `${b.processIndex}/${p.index}/${p.indexType}`));
      const got = reply.blocks.flatMap((b) => b.params.map((p) => `${b.process}/${p.fbnr}/${p.wireType}`));
      return want.length === got.length && want.every((w, i) => w === got[i]);
    }
    case 'sendWithStatus':
      return reply.kind === 'status';
    default:
      return reply.kind === 'status';
  }
}
