/**
 * Quarry as users run it, in child processes: the server (apps/server/src/main.ts) and the
 * `quarry` CLI (apps/server/src/cli/main.ts), both started the way `pnpm start` / `pnpm quarry` do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

const serverRoot = fileURLToPath(new URL('../../../apps/server/', import.meta.url));
const tsxLoader = import.meta.resolve('tsx');

function node(
  script: string,
  args: string[],
  env: Record<string, string>,
  stdin: 'pipe' | number = 'pipe',
): ChildProcess {
  return spawn(process.execPath, ['--import', tsxLoader, script, ...args], {
    cwd: serverRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
}

/** Lines joined into pieces of about 1 MiB (a client writes a load in large pieces, not one small write per line). */
function* joinedLines(lines: Iterable<string>): Generator<string> {
  let batch: string[] = [];
  let chars = 0;
  for (const line of lines) {
    batch.push(line);
    chars += line.length;
    if (chars >= 1 << 20) {
      yield batch.join('');
      batch = [];
      chars = 0;
    }
  }
  if (batch.length > 0) yield batch.join('');
}

/**
 * A request body made before the clock starts, as every system's input is (binary COPY's data,
 * the CLI's file, the INSERTs' rows): the timed load measures the server, not the bench making JSON.
 */
export function requestBody(lines: Iterable<string>): Buffer[] {
  return Array.from(joinedLines(lines), (text) => Buffer.from(text));
}

export interface QuarryServerProcess {
  url: URL;
  pid: number;
  /** Resident memory of the server process now, in MiB (Linux: /proc/<pid>/status). */
  rssMiB(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts the real server against `databaseUrl` (migrated on start) and waits until it is ready. */
export async function startQuarryServer(databaseUrl: string): Promise<QuarryServerProcess> {
  const child = node('src/main.ts', [], {
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    QUARRY_LOG_FORMAT: 'json',
    QUARRY_DEMO: 'false',
    // A load's chunks and its index build run without the per-request timeout (as the bench's
    // other loaders do), with the build memory the scratch databases give CREATE INDEX.
    STATEMENT_TIMEOUT_MS: '0',
    DATABASE_INDEX_BUILD_MEMORY: '2GB',
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the Quarry server exited (${String(code)}) before it was ready:\n${stderr}`);
  });
  exited.catch(() => undefined);
  const ready = (async () => {
    let url: URL | undefined;
    for await (const line of createInterface({ input: child.stdout as Readable })) {
      const record = JSON.parse(line) as { msg?: string; url?: string };
      if (record.msg === 'listening' && record.url) url = new URL(record.url);
      if (record.msg === 'ready' && url) return url;
    }
    throw new Error(`the Quarry server closed its output before it was ready:\n${stderr}`);
  })();
  const url = await Promise.race([ready, exited]);
  // Keep reading its log so the pipe never fills.
  child.stdout?.resume();
  const pid = child.pid ?? 0;
  return {
    url,
    pid,
    async rssMiB() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return Math.round(kb / 1024);
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exit = once(child, 'exit');
      child.kill('SIGTERM');
      await exit;
    },
  };
}

/** The server's summary of one streamed load (its `done` line). */
export interface StreamDone {
  complete: boolean;
  documents: number;
  inserted: number;
  index: { action: string; ms: number };
  ms: { load: number; index: number; untilSearchable: number };
}

/**
 * One streaming ingest over HTTP: the body (requestBody) is written as the server takes it (waiting
 * on the socket when it pushes back), and the answer's `done` line is returned.
 */
export async function streamIngest(
  server: QuarryServerProcess,
  collection: string,
  body: readonly Buffer[],
  query: Record<string, string> = {},
): Promise<StreamDone & { lastCommitMs: number }> {
  const started = performance.now();
  let lastCommitMs = 0;
  const url = new URL(`/api/collections/${collection}/ingest`, server.url);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const req = request(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' } });
  req.flushHeaders();
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  let text = '';
  response.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    // The load is stored when its last chunk is committed; an index build may follow.
    if (chunk.includes('"committed"')) lastCommitMs = performance.now() - started;
  });
  const ended = once(response, 'end');
  // A server that stops reading (an error line) fails the upload; its answer says why.
  if (response.statusCode === 200) await pipeline(Readable.from(body), req).catch(() => undefined);
  else req.end();
  await ended;
  const answers = text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { done?: StreamDone; error?: unknown });
  const done = answers.at(-1)?.done;
  const error = answers.find((answer) => answer.error)?.error;
  if (!done?.complete || error)
    throw new Error(`the streaming ingest failed: ${JSON.stringify(error ?? answers.at(-1))}`);
  return { ...done, lastCommitMs };
}

/**
 * `quarry ingest - -c <collection> --url <server> --json < <file>`: the JSONL file on its stdin, as
 * a user pipes one (the file is written beforehand, so making its text is not on the clock);
 * resolves at its exit with what its summary says the server did with the index.
 */
export async function cliIngest(
  server: QuarryServerProcess,
  collection: string,
  file: string,
): Promise<{ index: { action: string; ms: number } }> {
  const input = await open(file, 'r');
  try {
    const child = node(
      'src/cli/main.ts',
      [
        'ingest',
        '-',
        '-c',
        collection,
        '--format',
        'jsonl',
        '--json',
        '--url',
        server.url.toString(),
      ],
      {},
      input.fd,
    );
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0)
      throw new Error(`quarry ingest exited ${String(code)}:\n${stderr.slice(-2000)}`);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      stream?: { index: { action: string; ms: number } };
    };
    return { index: summary.stream?.index ?? { action: 'unknown', ms: 0 } };
  } finally {
    await input.close();
  }
}

/** Writes `lines` to `file` (with the file's back-pressure). */
export function writeLines(lines: Iterable<string>, file: string): Promise<void> {
  return pipeline(Readable.from(joinedLines(lines)), createWriteStream(file));
}
