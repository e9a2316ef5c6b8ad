/**
 * The process the crash test kills: a store whose MySQL server is unreachable (a closed
 * port), so every batch goes to the spool. Writes transactions until it is killed, and says
 * on stdout how many are safely in the spool.
 *
 *   node --import tsx test/store/crash-child.ts SPOOL_DIR
 */
import { openStore } from '../../src/store/index.js';
import { silentLogger } from '../../src/shared/index.js';
import { makeTx } from './helpers.js';

const spoolDir = process.argv[2];
if (!spoolDir) throw new Error('usage: crash-child.ts SPOOL_DIR');
const store = await openStore(
  { url: 'mysql://root@127.0.0.1:1/unreachable', spoolDir, batchRows: 50, batchMs: 10, retention: { transactionsDays: null, parameterValuesDays: null } },
  { logger: silentLogger, options: { connectTimeoutMs: 200, writeTimeoutMs: 500, retryMinMs: 50, retryMaxMs: 200 } },
);
let n = 0;
for (;;) {
  for (let i = 0; i < 37; i++) store.write(makeTx({ node: 21 }, n++));
  if (n % 370 === 0) {
    await store.flush();
    process.stdout.write(`spooled ${store.status().spooled}\n`);
  }
  await new Promise((r) => setTimeout(r, 2));
}
