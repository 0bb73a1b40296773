import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A timeout only catches a hang: no test may fail because the machine is slow or busy (the CLI and
    // compare suites spawn whole training runs, which take several times longer under load).
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
  },
});
