import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Tests that start servers or processes must stop them; vitest kills stragglers at exit.
    teardownTimeout: 20_000,
  },
});
