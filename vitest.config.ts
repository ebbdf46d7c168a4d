import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: files that spawn peers and move 64 MiB must not all run at once.
    maxWorkers: 2,
    setupFiles: ['./test/setup.ts'],
  },
});
