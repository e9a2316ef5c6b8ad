import { describe, expect, it } from 'vitest';
import { FanoutSink, type LoggedTransaction, type TransactionSink } from '../../src/gateway/index.js';
import { recordingLogger } from '../store/helpers.js';

describe('FanoutSink', () => {
  it('a sink that throws does not keep the transaction from the others, and what it dropped is said at debug level', () => {
    const log = recordingLogger();
    const got: string[] = [];
    const failing: TransactionSink = {
      write() {
        throw new Error('disk full');
      },
    };
    const fan = new FanoutSink([failing, { write: (t) => void got.push(t.id) }], log);
    fan.write({ id: 'tx-1' } as LoggedTransaction);
    expect(got).toEqual(['tx-1']);
    expect(log.lines).toEqual([{ level: 'debug', msg: 'dropped: a transaction sink threw', obj: { err: 'disk full', sink: 0, transaction: 'tx-1' } }]);
  });
});
