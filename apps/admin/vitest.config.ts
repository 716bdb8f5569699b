import { reporters } from '@quarry/vitest-config';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters,
    // Stopping the server closes the embedded database, which flushes it to disk.
    teardownTimeout: 60_000,
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts'], environment: 'node' } },
      {
        test: {
          name: 'e2e',
          include: ['e2e/**/*.e2e.test.ts'],
          // One browser, one server, one database: the flows run in order against the same state.
          fileParallelism: false,
          globalSetup: ['e2e/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
