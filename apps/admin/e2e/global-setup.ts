import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { TestProject } from 'vitest/node';
import { missingBrowser } from './browser';
import { startQuarryServer } from './server';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the dashboard and its API are served, e.g. http://127.0.0.1:41234 */
    baseUrl: string;
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
    return;
  }
  // Without a browser every suite is skipped: no dashboard build, no demo database.
  if (missingBrowser()) {
    project.provide('baseUrl', '');
    return;
  }
  await build({ root: adminRoot, logLevel: 'warn' });
  mkdirSync(testOutput, { recursive: true });
  // A fresh database per run unless asked to keep one: filling the demo collection takes a minute.
  const dataDir = `${testOutput}e2e-data`;
  if (process.env.QUARRY_TEST_KEEP_DATA !== '1') rmSync(dataDir, { recursive: true, force: true });
  const server = await startQuarryServer({
    dataDir,
    readyTimeoutMs: 290_000,
    log: (line) => console.log(line),
  });
  project.provide('baseUrl', server.url);
  return async () => {
    const started = Date.now();
    await server.stop();
    console.log(`quarry server stopped in ${Date.now() - started} ms`);
  };
}
