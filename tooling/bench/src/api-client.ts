import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createQuarryClient, type QuarryClient } from '@quarry/client';

export type ApiClient = QuarryClient;

export interface ApiProcess {
  client: ApiClient;
  url: string;
  /** The server process, e.g. to read its CPU time. */
  pid: number;
  stop(): Promise<void>;
}

/** The server users run (`npm start` is `tsx src/main.ts`): its HTTP layer, logging and limits. */
const serverEntry = fileURLToPath(new URL('../../../apps/server/src/main.ts', import.meta.url));
const tsxLoader = import.meta.resolve('tsx');

/**
 * Starts Quarry's server on `databaseUrl` as a child process (its own event loop, like a
 * deployment), waits until /readyz says ready, and connects Quarry's typed client.
 * No API keys: the bench measures serving, not key checks (one hash lookup per request).
 */
export async function startApiServer(
  databaseUrl: string,
  /** Node options for the server process, e.g. `['--cpu-prof']` to profile it. */
  nodeOptions: readonly string[] = [],
): Promise<ApiProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeOptions, '--import', tsxLoader, serverEntry],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        PORT: '0',
        HOST: '127.0.0.1',
        QUARRY_LOG_FORMAT: 'json',
        QUARRY_DEMO: 'false',
        QUARRY_AUTO_MIGRATE: 'true',
        // Ingest bodies of 1,000 documents × 1,536 dimensions run to tens of megabytes.
        QUARRY_MAX_BODY_BYTES: String(256 * 1024 * 1024),
        QUARRY_BODY_TIMEOUT_MS: String(10 * 60 * 1000),
        QUARRY_MAX_INGEST_BATCH: '10000',
      },
    },
  );
  const stdout = child.stdout;
  if (!stdout || child.pid === undefined) throw new Error('API server has no stdout');
  const lines = createInterface({ input: stdout });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`API server exited with code ${String(code)} before listening`);
  });
  exited.catch(() => undefined); // after a normal start, the exit at stop() is expected
  // One JSON line per request follows on stdout: it is read to the end, as a log shipper would.
  const listening = new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      try {
        const record = JSON.parse(line) as { msg?: string; url?: string };
        if (record.msg === 'listening' && record.url) resolve(record.url);
      } catch {
        // not a log line
      }
    });
    lines.once('close', () => reject(new Error('API server closed its output before listening')));
  });
  const origin = await Promise.race([listening, exited]);
  for (let attempt = 0; ; attempt++) {
    const ready = await fetch(new URL('/readyz', origin)).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (attempt > 300) throw new Error('API server did not become ready within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const url = new URL('/trpc', origin).toString();
  // The typed client services use (packages/client): its link and its batching, as they run it.
  const client = createQuarryClient({ url: origin });
  return {
    client,
    url,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null) return;
      const exit = once(child, 'exit');
      child.kill('SIGTERM');
      await exit;
    },
  };
}
