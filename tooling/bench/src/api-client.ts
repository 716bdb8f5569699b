import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTRPCClient, httpLink } from '@trpc/client';
import type { AppRouter } from '@quarry/api';

export type ApiClient = ReturnType<typeof createTRPCClient<AppRouter>>;

export interface ApiProcess {
  client: ApiClient;
  url: string;
  stop(): Promise<void>;
}

const serverScript = fileURLToPath(new URL('./api-server.ts', import.meta.url));
const tsxLoader = import.meta.resolve('tsx');

/** Starts the API server as a child process (its own event loop, like a deployment) and connects a client. */
export async function startApiServer(databaseUrl: string): Promise<ApiProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', tsxLoader, serverScript, databaseUrl],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const stdout = child.stdout;
  if (!stdout) throw new Error('API server has no stdout');
  const lines = createInterface({ input: stdout });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`API server exited with code ${String(code)} before listening`);
  });
  exited.catch(() => undefined); // after a normal start, the exit at stop() is expected
  const listening = (async () => {
    for await (const line of lines) {
      const parsed: unknown = JSON.parse(line);
      if (
        typeof parsed === 'object' &&
        parsed !== null &&
        'port' in parsed &&
        typeof parsed.port === 'number'
      )
        return parsed.port;
    }
    throw new Error('API server closed its output before listening');
  })();
  const port = await Promise.race([listening, exited]);
  const url = `http://127.0.0.1:${port}/trpc`;
  const client = createTRPCClient<AppRouter>({
    links: [httpLink({ url, methodOverride: 'POST' })],
  });
  return {
    client,
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exit = once(child, 'exit');
      child.kill('SIGTERM');
      await exit;
    },
  };
}
