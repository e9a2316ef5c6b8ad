import { defineConfig } from 'vitest/config';

/**
 * The tests of `npm run test:e2e`: those that need a pty (socat), a socket server, a database (SQLite
 * files, MariaDB) or a child process. Directories end with `/`, files are named whole. Every other
 * test file is a unit test (`npm run test:unit`), so a new file is never left out of either;
 * test/helpers/split.test.ts checks that each entry names test files and that no unit test uses those.
 */
export const E2E: readonly string[] = [
  'test/e2e/',
  'test/store/close-drain.test.ts',
  'test/store/compact.test.ts',
  'test/store/convert.test.ts',
  'test/store/convert-cli.test.ts',
  'test/store/convert-large.test.ts',
  'test/store/crash.test.ts',
  'test/store/dropped.test.ts',
  'test/store/gateway.test.ts',
  'test/store/literals.test.ts',
  'test/store/load-data.test.ts',
  'test/store/lock.test.ts',
  'test/store/loss.test.ts',
  'test/store/redact.test.ts',
  'test/store/sqlite-thread.test.ts',
  'test/store/store.test.ts',
  'test/api/error-shape.test.ts',
  'test/api/events.test.ts',
  'test/api/history-times.test.ts',
  'test/api/transactions-csv.test.ts',
  'test/commands/backup.test.ts',
  'test/bridge/bridge.test.ts',
  'test/bridge/events.test.ts',
  'test/bridge/inject.test.ts',
  'test/bridge/threads.test.ts',
  'test/gateway/master.test.ts',
  'test/gateway/lab.test.ts',
  'test/mqtt/mqtt.test.ts',
  'test/mqtt/outage.test.ts',
  'test/mqtt/lab.test.ts',
  'test/observe/cli.test.ts',
  'test/observe/socat.test.ts',
  'test/simulator/cli.test.ts',
  'test/simulator/transport.test.ts',
  'test/transport/close.test.ts',
  'test/transport/hangup.test.ts',
  'test/transport/pause.test.ts',
  'test/transport/direct.test.ts',
  'test/transport/threadpool.test.ts',
  'test/transport/transport.test.ts',
];

export const ALL_TESTS = 'test/**/*.test.ts';
const e2eGlobs = E2E.map((p) => (p.endsWith('/') ? `${p}**/*.test.ts` : p));

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Serial and database tests open real ptys and sockets; two workers suit the 2-core machines.
    maxWorkers: 2,
    reporters: ['default'],
    // `vitest run` runs both; `--project unit` or `--project e2e` one of them.
    projects: [
      { extends: true, test: { name: 'unit', include: [ALL_TESTS], exclude: e2eGlobs } },
      { extends: true, test: { name: 'e2e', include: e2eGlobs } },
    ],
  },
});
