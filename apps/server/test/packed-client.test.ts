import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQuarryClient } from '@quarry/client';
import { apiKeysEnv, keys, scratchDir, startServer, type ServerProcess } from './harness';

/**
 * A service outside this monorepo installs `@quarry/client` the way it would from a registry: the
 * tarball `pnpm pack` makes, into an empty project in the system's temporary directory, where no
 * workspace package, tsx or TypeScript source is in reach. It runs the client with plain `node`
 * and type-checks against the declarations the tarball ships.
 */

const clientRoot = fileURLToPath(new URL('../../../packages/client', import.meta.url));
/** This workspace's TypeScript compiler; the outside project gets no TypeScript of its own. */
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; a non-zero exit is an outcome, not an exception. */
function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(command, args, { ...options, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function succeeded(outcome: Outcome, what: string): string {
  if (outcome.code !== 0) {
    throw new Error(
      `${what} exited ${outcome.code}\nstdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`,
    );
  }
  return outcome.stdout;
}

/** The environment this test runs in (npm's and pnpm's settings), without preloads into Node. */
const inheritedEnv = { ...process.env, NODE_OPTIONS: '' };
/** What a plain `node` of an outside service gets: a path and a home, nothing of this repository. */
const outsideEnv = (extra: Record<string, string>) => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  ...extra,
});

/** Packs the client as it would be published and installs the tarball into an empty project. */
async function installPackedClient(project: string, packDestination: string): Promise<void> {
  succeeded(
    await run('npx', ['-y', 'pnpm@12.4.2', 'pack', '--pack-destination', packDestination], {
      cwd: clientRoot,
      env: inheritedEnv,
    }),
    'pnpm pack (its prepack builds dist/)',
  );
  const tarballs = readdirSync(packDestination).filter((name) => name.endsWith('.tgz'));
  expect(tarballs).toHaveLength(1);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'outside-service', private: true, type: 'module' }, null, 2),
  );
  // --omit=peer: @trpc's peer dependency on TypeScript is met by this workspace's compiler.
  succeeded(
    await run(
      'npm',
      [
        'install',
        join(packDestination, tarballs[0]!),
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--omit=peer',
      ],
      { cwd: project, env: inheritedEnv },
    ),
    'npm install of the tarball',
  );
}

const searchScript = `
import { createQuarryClient, quarryCodeOf } from '@quarry/client';

const quarry = createQuarryClient({ url: process.env.QUARRY_URL, apiKey: process.env.QUARRY_API_KEY });
const { results } = await quarry.search.query.query({ collection: 'places', vector: [0.1, 0.9, 0], k: 2 });
const missing = await quarry.search.query
  .query({ collection: 'nowhere', vector: [1, 0, 0], k: 1 })
  .then(() => 'found', quarryCodeOf);
console.log(JSON.stringify({
  resolved: import.meta.resolve('@quarry/client'),
  results: results.map((result) => ({ content: result.content, metadata: result.metadata })),
  missing,
}));
`;

/** The deliberate mistake: search results have `content`, not `text`. */
const MISTAKE = 'const mistake: string = first.text;';

function typedScript(withMistake: boolean): string {
  return [
    "import { createQuarryClient, quarryCodeOf, type RouterInputs } from '@quarry/client';",
    '',
    "const quarry = createQuarryClient({ url: 'http://127.0.0.1:8080', apiKey: 'a-key' });",
    "const input: RouterInputs['search']['query'] = { collection: 'places', text: 'north', k: 3 };",
    'const { results, stats } = await quarry.search.query.query(input);',
    'const first = results[0];',
    'if (first) {',
    '  const similarity: number | null = first.similarity;',
    '  const content: string = first.content;',
    '  console.log(similarity, content, stats.tookMs);',
    ...(withMistake ? [`  ${MISTAKE}`, '  console.log(mistake);'] : []),
    '}',
    "await quarry.documents.ingest.mutate({ collection: 'places', documents: [{ content: 'x' }] });",
    "if (quarryCodeOf(new Error('offline')) === 'COLLECTION_NOT_FOUND') console.log('missing');",
    '',
  ].join('\n');
}

interface Diagnostic {
  file: string;
  line: number;
  code: string;
  message: string;
}

/**
 * `tsc --noEmit` in the outside project, strict, with node's own module resolution. Its lib check is
 * on, so the client's declarations must resolve every import from what the tarball installed;
 * @trpc's own declarations also want @types/node and ws, which this bare project does not install.
 */
async function typeCheck(project: string, source: string): Promise<Diagnostic[]> {
  writeFileSync(join(project, 'check.ts'), source);
  const outcome = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], {
    cwd: project,
    env: outsideEnv({}),
  });
  const diagnostics = [
    ...outcome.stdout.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm),
  ].map(([, file, line, code, message]) => ({
    file: file!,
    line: Number(line),
    code: code!,
    message: message!,
  }));
  if (outcome.code !== 0 && diagnostics.length === 0) succeeded(outcome, 'tsc');
  return diagnostics.filter((diagnostic) => !diagnostic.file.startsWith('node_modules/@trpc/'));
}

describe('@quarry/client packed and installed in a project outside the workspace', () => {
  let server: ServerProcess | undefined;
  const data = scratchDir('quarry-packed-client-db');
  const packDestination = scratchDir('quarry-client-tarball');
  const project = scratchDir('quarry-outside-service');

  beforeAll(async () => {
    const started = (async () => {
      server = await startServer({
        QUARRY_DATA_DIR: join(data.path, 'db'),
        QUARRY_API_KEYS: apiKeysEnv,
      });
      await server.waitForReady();
      const admin = createQuarryClient({ url: server.url, apiKey: keys.admin });
      await admin.collections.create.mutate({
        name: 'places',
        dimensions: 3,
        embeddingModel: 'external/test-3d',
      });
      await admin.documents.ingest.mutate({
        collection: 'places',
        documents: [
          { content: 'north', embedding: [0, 1, 0], metadata: { bearing: 0 } },
          { content: 'east', embedding: [1, 0, 0], metadata: { bearing: 90 } },
          { content: 'south', embedding: [0, -1, 0], metadata: { bearing: 180 } },
        ],
      });
    })();
    await Promise.all([started, installPackedClient(project.path, packDestination.path)]);
    writeFileSync(
      join(project.path, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['check.ts'],
      }),
    );
  }, 600_000);

  afterAll(async () => {
    await server?.stop();
    data.remove();
    packDestination.remove();
    project.remove();
  });

  it('installs with only published dependencies, and exports built JavaScript and declarations', () => {
    const manifest = JSON.parse(
      readFileSync(join(project.path, 'node_modules/@quarry/client/package.json'), 'utf8'),
    ) as { dependencies?: Record<string, string>; exports: unknown; private?: boolean };
    expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual([
      '@trpc/client',
      '@trpc/server',
    ]);
    expect(manifest.exports).toEqual({
      '.': { types: './dist/index.d.ts', node: './dist/node.js', default: './dist/index.js' },
    });
    const declarations = readFileSync(
      join(project.path, 'node_modules/@quarry/client/dist/index.d.ts'),
      'utf8',
    );
    const imported = new Set(
      [...declarations.matchAll(/(?:from |import\()['"]([^'"]+)['"]/g)].map(([, name]) => name),
    );
    expect([...imported].sort()).toEqual(['@trpc/client', '@trpc/server']);
  });

  it('a script run with plain node searches the running server and gets its documents', async () => {
    writeFileSync(join(project.path, 'search.mjs'), searchScript);
    const stdout = succeeded(
      await run(process.execPath, ['search.mjs'], {
        cwd: project.path,
        env: outsideEnv({ QUARRY_URL: server!.url.toString(), QUARRY_API_KEY: keys.reader }),
      }),
      'node search.mjs',
    );
    const printed = JSON.parse(stdout) as { resolved: string; results: unknown; missing: unknown };
    // Node takes the `node` condition: the client whose calls go through node:http.
    expect(fileURLToPath(printed.resolved)).toBe(
      join(project.path, 'node_modules/@quarry/client/dist/node.js'),
    );
    expect(printed.results).toEqual([
      { content: 'north', metadata: { bearing: 0 } },
      { content: 'east', metadata: { bearing: 90 } },
    ]);
    expect(printed.missing).toBe('COLLECTION_NOT_FOUND');
  });

  it('tsc --noEmit against the shipped declarations passes a correct script', async () => {
    expect(await typeCheck(project.path, typedScript(false))).toEqual([]);
  });

  it('tsc --noEmit reports the one deliberate type error, and nothing else', async () => {
    const source = typedScript(true);
    const line = source.split('\n').findIndex((text) => text.includes(MISTAKE)) + 1;
    const diagnostics = await typeCheck(project.path, source);
    expect(diagnostics.map(({ file, line, code }) => ({ file, line, code }))).toEqual([
      { file: 'check.ts', line, code: 'TS2339' },
    ]);
    expect(diagnostics[0]?.message).toMatch(/Property 'text' does not exist/);
  });
});
