import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const serverApp = fileURLToPath(new URL('../../server/', import.meta.url));
const serverMain = fileURLToPath(new URL('../../server/src/main.ts', import.meta.url));
const adminDist = fileURLToPath(new URL('../dist/', import.meta.url));

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the real Quarry server (apps/server) on the embedded database in `dataDir`, serving the
 * built dashboard, and resolves once /readyz says it is ready: migrations applied and the demo
 * collection filled (the first start in a fresh directory embeds the whole corpus) unless `env`
 * sets QUARRY_DEMO=false.
 */
export async function startQuarryServer(options: {
  dataDir: string;
  readyTimeoutMs: number;
  log: (line: string) => void;
  /** More server configuration (see apps/server/src/env.ts), e.g. QUARRY_API_KEYS. */
  env?: Record<string, string>;
}): Promise<RunningServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
  const output: string[] = [];
  const child: ChildProcess = spawn(process.execPath, [tsxCli, serverMain], {
    cwd: serverApp,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      QUARRY_DATA_DIR: options.dataDir,
      QUARRY_ADMIN_DIST: adminDist,
      QUARRY_DEMO: 'true',
      QUARRY_LOG_FORMAT: 'json',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const remember = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', remember);
  child.stderr?.on('data', remember);
  const serverProcess = { exitCode: null as number | null };
  child.on('exit', (code) => {
    serverProcess.exitCode = code ?? -1;
  });

  const deadline = Date.now() + options.readyTimeoutMs;
  let lastDetail = '';
  for (;;) {
    if (serverProcess.exitCode !== null)
      throw new Error(
        `the Quarry server exited with code ${serverProcess.exitCode} before it was ready:\n${output.join('').slice(-4000)}`,
      );
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `the Quarry server was not ready within ${options.readyTimeoutMs} ms (last: ${lastDetail}):\n${output.join('').slice(-4000)}`,
      );
    }
    try {
      const response = await fetch(`${url}/readyz`);
      const body = (await response.json()) as {
        ready?: boolean;
        checks?: { startup?: { detail?: string } };
      };
      if (body.ready) break;
      const detail = body.checks?.startup?.detail ?? '';
      if (detail !== lastDetail) options.log(`quarry server: ${detail}`);
      lastDetail = detail;
    } catch {
      // Not listening yet.
    }
    await sleep(500);
  }

  return {
    url,
    async stop() {
      if (serverProcess.exitCode !== null) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      // The embedded database flushes to disk on close, which takes a while after the demo load.
      const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
      await done;
      clearTimeout(killer);
    },
  };
}
