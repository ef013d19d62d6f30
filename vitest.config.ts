import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'threads',
    testTimeout: 60_000,
    coverage: {
      provider: 'v8',
      include: ['machines/**/*.ts', 'actors/**/*.ts', 'system/**/*.ts'],
      exclude: ['system/cli.ts', 'system/demo.ts'],
      reporter: ['text-summary', 'text'],
      thresholds: { lines: 90 },
    },
  },
});
