import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at once on the 2-core CI machine (vitest's default is one there: cores − 1). Most
    // files wait on Postgres, Azurite, child processes and timers: 1,004 s → 634 / 695 s for the
    // whole suite, all passing (2026-12-06).
    maxWorkers: 2,
    // Tests that start servers or processes must stop them; vitest kills stragglers at exit.
    teardownTimeout: 20_000,
  },
});
