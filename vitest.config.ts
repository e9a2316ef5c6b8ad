import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Serial and database tests open real ptys and sockets; two workers suit the 2-core machines.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
