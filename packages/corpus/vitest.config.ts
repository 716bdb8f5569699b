import { reporters } from '@quarry/vitest-config';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { reporters, include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 120_000 },
});
