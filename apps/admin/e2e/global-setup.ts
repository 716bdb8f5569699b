import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { TestProject } from 'vitest/node';
import { missingBrowser } from './browser';
import { REEMBED_DIMENSIONS, REEMBED_MODEL, startEmbeddingsStub } from './embeddings';
import { startQuarryServer } from './server';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the dashboard and its API are served, e.g. http://127.0.0.1:41234 */
    baseUrl: string;
    /**
     * The test server's second model (e2e/embeddings.ts), to re-embed to; null against a server
     * started elsewhere, which may not have one.
     */
    reembedTarget: { model: string; dimensions: number } | null;
  }
}

const adminRoot = fileURLToPath(new URL('..', import.meta.url));
const testOutput = fileURLToPath(new URL('../test-output/', import.meta.url));

/**
 * The browser tests run against the built dashboard served by the real server process, on an
 * embedded database seeded with the demo corpus. QUARRY_TEST_ADMIN_URL points them at a server
 * that is already running instead (its dashboard must be built from this tree).
 */
export default async function setup(project: TestProject) {
  const external = process.env.QUARRY_TEST_ADMIN_URL;
  if (external) {
    project.provide('baseUrl', external.replace(/\/$/, ''));
    project.provide('reembedTarget', null);
    return;
  }
  // Without a browser every suite is skipped: no dashboard build, no demo database.
  if (missingBrowser()) {
    project.provide('baseUrl', '');
    project.provide('reembedTarget', null);
    return;
  }
  await build({ root: adminRoot, logLevel: 'warn' });
  mkdirSync(testOutput, { recursive: true });
  // A fresh database per run unless asked to keep one: filling the demo collection takes a minute.
  const dataDir = `${testOutput}e2e-data`;
  if (process.env.QUARRY_TEST_KEEP_DATA !== '1') rmSync(dataDir, { recursive: true, force: true });
  // Each request of the second model takes 750 ms: a re-embed of 1,000 documents takes seconds.
  const embeddings = await startEmbeddingsStub(750);
  const server = await startQuarryServer({
    dataDir,
    readyTimeoutMs: 290_000,
    log: (line) => console.log(line),
    env: {
      QUARRY_OPENAI_BASE_URL: embeddings.baseUrl,
      QUARRY_OPENAI_MODEL: REEMBED_MODEL,
      QUARRY_OPENAI_DIMENSIONS: String(REEMBED_DIMENSIONS),
    },
  }).catch(async (error: unknown) => {
    await embeddings.close();
    throw error;
  });
  project.provide('baseUrl', server.url);
  project.provide('reembedTarget', {
    model: `openai-compatible/${REEMBED_MODEL}`,
    dimensions: REEMBED_DIMENSIONS,
  });
  return async () => {
    const started = Date.now();
    await server.stop();
    console.log(`quarry server stopped in ${Date.now() - started} ms`);
    await embeddings.close();
  };
}
