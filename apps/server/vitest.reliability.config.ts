import { defineConfig } from 'vitest/config';

// The long reliability suites (`pnpm test:reliability`): crash, fault, pooler, load and hostile-input
// runs against the real server. One file at a time: they share the machine's CPU and PostgreSQL.
export default defineConfig({
  test: {
    include: ['reliability/**/*.test.ts'],
    globalSetup: ['reliability/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 300_000,
    reporters: ['verbose'],
  },
});
