import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaller, createContextInner, openAccess } from '@quarry/api';
import { createEmbeddingRegistry } from '@quarry/api/embeddings';
import { createQuarryClient } from '@quarry/client';
import { createDb, sql } from '@quarry/db';
import { ingestInput } from '../src/cli/ingest';
import { httpTarget } from '../src/cli/target';
import { repoRoot } from './dependency-floors';
import {
  describeOnPostgres,
  postgresUrl,
  runCli,
  runScript,
  scratchDir,
  scratchPostgres,
  serverRoot,
  startServer,
  type ServerProcess,
} from './harness';

const poolerUrl = process.env.QUARRY_TEST_PGBOUNCER_URL || undefined;

/** A small corpus on disk: two Markdown files (one in a subdirectory), a text file, a JSONL file, and things to skip. */
function writeCorpus(root: string) {
  mkdirSync(join(root, 'docs', 'guide'), { recursive: true });
  mkdirSync(join(root, 'docs', '.hidden'));
  writeFileSync(
    join(root, 'docs', 'intro.md'),
    '# Intro\n\nQuarry stores documents and vectors in PostgreSQL.\n\n# Install\n\nRun npm start to get a server.\n',
  );
  writeFileSync(
    join(root, 'docs', 'guide', 'search.md'),
    '# Search\n\nHybrid search fuses keyword and vector rankings.\n',
  );
  writeFileSync(
    join(root, 'docs', 'notes.txt'),
    'Plain text notes about sailing ships and harbours.\n',
  );
  writeFileSync(join(root, 'docs', '.hidden', 'secret.md'), '# not ingested\n');
  writeFileSync(join(root, 'docs', 'image.png'), 'not text');
  writeFileSync(
    join(root, 'records.jsonl'),
    [
      JSON.stringify({ content: 'The first record.', metadata: { kind: 'record', n: 1 } }),
      JSON.stringify({
        content: 'The second record.',
        metadata: { kind: 'record', n: 2 },
        id: 'rec-2',
      }),
      '',
      JSON.stringify({ content: 'The third record.', id: 3 }),
    ].join('\n'),
  );
}
const DIRECTORY_DOCUMENTS = 4; // intro.md has two sections, search.md one, notes.txt one
const JSONL_DOCUMENTS = 3;

function summaryOf(stdout: string) {
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    documents: number;
    sent: number;
    inserted: number;
    updated: number;
    unchanged: number;
    duplicates: number;
  };
}

describe('quarry ingest on the embedded database', () => {
  const work = scratchDir('quarry-cli');
  const db = ['--data-dir', join(work.path, 'db')];
  beforeAll(() => writeCorpus(work.path));
  afterAll(() => work.remove());

  it('ingests a directory and a JSONL file with correct counts', async () => {
    const run = await runCli([
      'ingest',
      join(work.path, 'docs'),
      join(work.path, 'records.jsonl'),
      '-c',
      'kb',
      '--create',
      '--batch-size',
      '2',
      '--json',
      ...db,
    ]);
    expect(run.stderr).toContain("created collection 'kb'");
    expect(run.code).toBe(0);
    expect(summaryOf(run.stdout)).toMatchObject({
      documents: DIRECTORY_DOCUMENTS + JSONL_DOCUMENTS,
      sent: DIRECTORY_DOCUMENTS + JSONL_DOCUMENTS,
      inserted: DIRECTORY_DOCUMENTS + JSONL_DOCUMENTS,
      unchanged: 0,
      duplicates: 0,
    });
  });

  it('a second run sends nothing: every document is already stored', async () => {
    const run = await runCli([
      'ingest',
      join(work.path, 'docs'),
      join(work.path, 'records.jsonl'),
      '-c',
      'kb',
      '--json',
      ...db,
    ]);
    expect(run.code).toBe(0);
    expect(summaryOf(run.stdout)).toMatchObject({
      documents: DIRECTORY_DOCUMENTS + JSONL_DOCUMENTS,
      sent: 0,
      inserted: 0,
      updated: 0,
      unchanged: DIRECTORY_DOCUMENTS + JSONL_DOCUMENTS,
      duplicates: 0,
    });
  });

  it('counts repeats within one run as duplicates of this run, not as already stored', async () => {
    const dir = join(work.path, 'repeats');
    mkdirSync(dir);
    const text = 'The same paragraph, copied into several files.\n';
    for (const name of ['a.txt', 'b.txt', 'c.txt']) writeFileSync(join(dir, name), text);
    writeFileSync(join(dir, 'd.txt'), 'A paragraph of its own.\n');
    const run = await runCli(['ingest', dir, '-c', 'fresh', '--create', ...db]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('ingested 4 documents');
    expect(run.stdout).toMatch(/^ {2}inserted: 2$/m);
    expect(run.stdout).toMatch(/^ {2}already stored: 0\b/m);
    expect(run.stdout).toMatch(/^ {2}duplicates in this run: 2\b/m);
    const again = await runCli(['ingest', dir, '-c', 'fresh', '--json', ...db]);
    expect(summaryOf(again.stdout)).toMatchObject({
      documents: 4,
      sent: 0,
      unchanged: 2,
      duplicates: 2,
    });
  });

  it('shows a progress bar with the total, a rate and an ETA on stderr, and a summary on stdout', async () => {
    const run = await runCli(['ingest', join(work.path, 'docs'), '-c', 'kb', ...db]);
    expect(run.stderr).toMatch(/ingest \[#+\] 4\/4 \(100%\) \d+\/s ETA \d+s/);
    expect(run.stdout).toContain('ingested 4 documents into');
    expect(run.stdout).toMatch(/^ {2}already stored: 4\b/m);
  });

  it('keeps file, chunk and Markdown heading as metadata, and finds them by search', async () => {
    const run = await runCli([
      'search',
      'hybrid rankings',
      '-c',
      'kb',
      '--mode',
      'hybrid',
      '--k',
      '1',
      '--json',
      ...db,
    ]);
    expect(run.code).toBe(0);
    const response = JSON.parse(run.stdout) as {
      results: Array<{ content: string; metadata: Record<string, unknown> }>;
    };
    expect(response.results[0]?.metadata).toEqual({
      source: join('guide', 'search.md'),
      chunk: 0,
      heading: 'Search',
    });
  });

  it('prints search results as a table', async () => {
    const run = await runCli(['search', 'sailing ships', '-c', 'kb', '--k', '2', ...db]);
    expect(run.code).toBe(0);
    const [header, rule, first] = run.stdout.split('\n');
    expect(header).toMatch(/^#\s+similarity\s+id\s+content\s+metadata$/);
    expect(rule).toMatch(/^-+\s+-+/);
    expect(first).toContain('Plain text notes about sailing ships');
  });

  it('reads JSONL from stdin', async () => {
    // The first record as stored (its metadata too: other metadata would be an update).
    const lines = `${JSON.stringify({ content: 'From a pipe.' })}\n${JSON.stringify({ content: 'The first record.', metadata: { kind: 'record', n: 1 } })}\n`;
    const run = await runCli(['ingest', '-c', 'kb', '--json', ...db], {}, lines);
    expect(run.code).toBe(0);
    expect(summaryOf(run.stdout)).toMatchObject({
      documents: 2,
      sent: 1,
      inserted: 1,
      unchanged: 1,
    });
  });

  it('a bad JSONL line fails before anything is written, naming the file and line', async () => {
    const bad = join(work.path, 'bad.jsonl');
    writeFileSync(
      bad,
      `${JSON.stringify({ content: 'valid but never sent' })}\n${JSON.stringify({ text: 'wrong field' })}\n`,
    );
    const run = await runCli(['ingest', bad, '-c', 'kb', ...db]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${bad}:2`);
    const search = await runCli([
      'search',
      'valid but never sent',
      '-c',
      'kb',
      '--mode',
      'keyword',
      '--json',
      ...db,
    ]);
    expect((JSON.parse(search.stdout) as { results: unknown[] }).results).toEqual([]);
  });

  it('lists and creates collections', async () => {
    const created = await runCli([
      'collections',
      'create',
      'small',
      '--dimensions',
      '3',
      '--model',
      'external/3d',
      '--text-search-config',
      'simple',
      ...db,
    ]);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('keywords simple');
    const listed = await runCli(['collections', '--json', ...db]);
    const names = (
      JSON.parse(listed.stdout) as Array<{
        name: string;
        documentCount: number;
        textSearchConfig: string;
      }>
    ).map((c) => [c.name, c.documentCount, c.textSearchConfig]);
    expect(names).toEqual([
      ['fresh', 2, 'english'],
      ['kb', DIRECTORY_DOCUMENTS + JSONL_DOCUMENTS + 1, 'english'],
      ['small', 0, 'simple'],
    ]);
  });

  it('refuses an unknown text-search configuration, naming the allowed ones', async () => {
    const run = await runCli([
      'collections',
      'create',
      'klingon',
      '--text-search-config',
      'klingon',
      ...db,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Allowed choices are simple, arabic, .*, english, .*yiddish/);
  });

  it('ingest --create --text-search-config simple creates a simple collection, whose keyword search finds a stop word', async () => {
    const lines = ['the tide turns', 'ropes and sails'].map((content) =>
      JSON.stringify({ content }),
    );
    const run = await runCli(
      ['ingest', '-c', 'plain', '--create', '--text-search-config', 'simple', ...db],
      {},
      `${lines.join('\n')}\n`,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("created collection 'plain' (quarry/");
    expect(run.stderr).toContain('keywords simple)');
    const listed = JSON.parse((await runCli(['collections', '--json', ...db])).stdout) as Array<{
      name: string;
      textSearchConfig: string;
    }>;
    expect(listed.find((c) => c.name === 'plain')?.textSearchConfig).toBe('simple');
    const search = await runCli([
      'search',
      'the',
      '-c',
      'plain',
      '--mode',
      'keyword',
      '--json',
      ...db,
    ]);
    const found = (JSON.parse(search.stdout) as { results: Array<{ content: string }> }).results;
    expect(found.map((result) => result.content)).toEqual(['the tide turns']);
  });

  it.each([
    [
      'an unknown configuration',
      ['--create', '--text-search-config', 'klingon'],
      /Allowed choices are simple, arabic, /,
    ],
    [
      'a configuration without --create',
      ['--text-search-config', 'simple'],
      /--text-search-config sets up a new collection: give it with --create/,
    ],
  ])(
    'ingest refuses %s as a usage error (exit 2), writing nothing',
    async (_name, args, message) => {
      const run = await runCli(
        ['ingest', '-c', 'refused', ...args, ...db],
        {},
        '{"content":"x"}\n',
      );
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
      const listed = JSON.parse((await runCli(['collections', '--json', ...db])).stdout) as Array<{
        name: string;
      }>;
      expect(listed.map((c) => c.name)).not.toContain('refused');
    },
  );

  it('doctor gives a verdict per line and exits 0 on a healthy database', async () => {
    const run = await runCli(['doctor', ...db]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    for (const line of lines) expect(line).toMatch(/^(OK|WARN|FAIL)\s+\S/);
    expect(lines.map((line) => line.split(/\s{2,}/)[1])).toEqual(
      expect.arrayContaining(['server', 'pgvector', 'migrations', 'index kb', 'dead tuples']),
    );
  });

  it('an unknown collection is an error naming it, with a non-zero exit', async () => {
    const run = await runCli(['ingest', join(work.path, 'docs'), '-c', 'nope', ...db]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("collection 'nope' does not exist");
  });

  it('a wrong flag value is a usage error (exit 2) naming the option', async () => {
    const run = await runCli(['search', 'x', '-c', 'kb', '--k', 'many', ...db]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "quarry search: option '--k <n>' argument 'many' is invalid. It must be a whole number of at least 1.",
    );
  });

  it('doctor reads the embedded database it names in its first line', async () => {
    const run = await runCli(['doctor', ...db]);
    expect(run.stdout).toMatch(
      new RegExp(`^OK\\s+server\\s+embedded PGlite .* in ${join(work.path, 'db')}$`, 'm'),
    );
  });
});

describe('quarry on an embedded database that does not exist', () => {
  const work = scratchDir('quarry-cli-none');
  afterAll(() => work.remove());
  const missing = () => join(work.path, 'nothing-here');

  it('doctor says which directory it read, that nothing is there and how to create it, and creates nothing', async () => {
    const run = await runCli(['doctor', '--data-dir', missing()]);
    expect(run.code).toBe(1);
    expect(run.stdout.trim()).toBe(
      `FAIL  database  no embedded database in ${missing()} (the directory does not exist). Create it by starting the server (npm start) or with \`quarry migrate\`; or point at another database: --data-dir (QUARRY_DATA_DIR), --database-url (DATABASE_URL) or a running server with --url (QUARRY_URL)`,
    );
    expect(readdirSync(work.path)).toEqual([]);
  });

  it('takes its arguments after the -- that `pnpm quarry -- <args>` passes on', async () => {
    const run = await runCli(['--', 'doctor', '--data-dir', missing()]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`no embedded database in ${missing()}`);
  });

  it('doctor says so of an empty directory too, and leaves it empty', async () => {
    mkdirSync(join(work.path, 'empty'));
    const run = await runCli(['doctor', '--json', '--data-dir', join(work.path, 'empty')]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual([
      {
        verdict: 'fail',
        check: 'database',
        detail: expect.stringContaining(`${join(work.path, 'empty')} (the directory is empty)`),
      },
    ]);
    expect(readdirSync(work.path)).toEqual(['empty']);
    expect(readdirSync(join(work.path, 'empty'))).toEqual([]);
  });

  it.each([
    ['search', ['search', 'anything', '-c', 'kb']],
    ['collections list', ['collections']],
    ['ingest without --create', ['ingest', '-', '-c', 'kb']],
  ])('%s refuses, naming the directory, and creates nothing', async (_name, args) => {
    const run = await runCli([...args, '--data-dir', missing()], {}, '{"content":"x"}\n');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`no embedded database in ${missing()}`);
    expect(existsSync(missing())).toBe(false);
  });

  it("without flags, from the repository root, doctor reads the server's default directory, not one in the working directory", async () => {
    const serverDefault = join(serverRoot, '.quarry-data');
    const hadOne = existsSync(join(repoRoot, '.quarry-data'));
    const run = await runScript(
      join(serverRoot, 'bin', 'quarry.js'),
      ['doctor'],
      {},
      undefined,
      repoRoot,
    );
    expect(`${run.stdout}${run.stderr}`).toContain(serverDefault);
    if (!hadOne) expect(existsSync(join(repoRoot, '.quarry-data'))).toBe(false);
  });
});

describe('quarry --help', () => {
  const commands: Array<[string[], string[]]> = [
    [
      ['ingest'],
      [
        '--collection <name>',
        '--batch-size <n>',
        '--chunk-size <n>',
        '--create',
        '--text-search-config <name>',
        '--format <format>',
        '--data-dir <dir>',
      ],
    ],
    [
      ['search'],
      [
        '--collection <name>',
        '--k <n>',
        '--mode <mode>',
        '--filter <json>',
        '--vector <json>',
        '--url <url>',
      ],
    ],
    [['collections'], ['list', 'create']],
    [
      ['collections', 'list'],
      ['--json', '--database-url <url>'],
    ],
    [
      ['collections', 'create'],
      [
        '<name>',
        '--dimensions <n>',
        '--metric <metric>',
        '--ef-construction <n>',
        '--text-search-config <name>',
      ],
    ],
    [['migrate'], ['--database-url <url>', '--data-dir <dir>']],
    [['doctor'], ['--json', '--url <url>', '--api-key <key>']],
  ];

  it.each(commands)(
    "quarry %s --help prints that command's usage and options, exit 0",
    async (command, expected) => {
      const run = await runCli([...command, '--help']);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(run.stdout).toContain(`Usage: quarry ${command.join(' ')} `);
      for (const option of expected) expect(run.stdout).toContain(option);
    },
  );

  it('quarry --help lists every command; quarry alone prints it as a usage error', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['ingest', 'search', 'collections', 'migrate', 'doctor'])
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    const bare = await runCli([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: quarry');
  });

  it('an unknown option or command is a usage error (exit 2) that says what was wrong', async () => {
    const option = await runCli(['search', 'x', '-c', 'kb', '--colour']);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("quarry search: unknown option '--colour'");
    expect(option.stderr).toContain('(see `quarry search --help`)');
    const command = await runCli(['serch']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("quarry: unknown command 'serch'");
    expect(command.stderr).toContain('(Did you mean search?)');
  });
});

describe('quarry ingest against a running server', () => {
  const work = scratchDir('quarry-cli-http');
  let server: ServerProcess;
  const key = 'cli-test-key-0123456789';
  beforeAll(async () => {
    writeCorpus(work.path);
    server = await startServer({
      QUARRY_DATA_DIR: join(work.path, 'db'),
      QUARRY_API_KEYS: JSON.stringify([{ key, scopes: ['read', 'write', 'admin'] }]),
    });
    await server.waitForReady();
  });
  afterAll(async () => {
    await server?.stop();
    work.remove();
  });

  it('streams a directory and a JSONL file over HTTP, and a second run writes nothing new', async () => {
    const args = [
      'ingest',
      join(work.path, 'docs'),
      join(work.path, 'records.jsonl'),
      '-c',
      'kb',
      '--batch-size',
      '2',
      '--json',
      '--url',
      server.url.toString(),
      '--api-key',
      key,
    ];
    const first = await runCli([...args, '--create']);
    expect(first.code).toBe(0);
    expect(summaryOf(first.stdout)).toMatchObject({
      documents: 7,
      sent: 7,
      inserted: 7,
      batches: 4,
      stream: { throughLine: 7 },
    });
    const client = createQuarryClient({ url: server.url.toString(), apiKey: key });
    const stored = async () =>
      (await client.documents.list.query({ collection: 'kb', limit: 500 })).items
        .map((item) => ({ id: item.id, updatedAt: item.updatedAt, content: item.content }))
        .sort((a, b) => a.id.localeCompare(b.id));
    const before = await stored();

    // Sent again, stored unchanged by the server: nothing is written.
    const second = await runCli(args);
    expect(summaryOf(second.stdout)).toMatchObject({
      documents: 7,
      sent: 7,
      inserted: 0,
      updated: 0,
      unchanged: 7,
    });
    expect(await stored()).toEqual(before);

    // One file changed: only its chunk is written.
    writeFileSync(join(work.path, 'docs', 'notes.txt'), 'Plain text notes about harbours only.\n');
    const third = await runCli(args);
    expect(summaryOf(third.stdout)).toMatchObject({
      documents: 7,
      inserted: 1,
      unchanged: 6,
    });
    const after = await stored();
    expect(after.filter((row) => !before.some((old) => old.id === row.id))).toEqual([
      expect.objectContaining({ content: 'Plain text notes about harbours only.' }),
    ]);
    expect(after.filter((row) => before.some((old) => old.id === row.id))).toEqual(before);
  });

  it('a JSONL record whose metadata changed is updated; the others are left unchanged', async () => {
    const file = join(work.path, 'keyed.jsonl');
    const lines = (kind: string) =>
      [
        JSON.stringify({ id: 'k-1', content: 'First keyed record.', metadata: { kind } }),
        JSON.stringify({ id: 'k-2', content: 'Second keyed record.', metadata: { kind: 'same' } }),
      ].join('\n');
    const args = [
      'ingest',
      file,
      '-c',
      'kb',
      '--json',
      '--url',
      server.url.toString(),
      '--api-key',
      key,
    ];
    writeFileSync(file, lines('before'));
    expect(summaryOf((await runCli(args)).stdout)).toMatchObject({ sent: 2, inserted: 2 });
    writeFileSync(file, lines('after'));
    expect(summaryOf((await runCli(args)).stdout)).toMatchObject({
      sent: 2,
      updated: 1,
      unchanged: 1,
    });
  });

  it('a refused line stops the stream; the run says where to resume, and --resume-from-line does', async () => {
    const file = join(work.path, 'resumable.jsonl');
    const record = (n: number, extra: object = {}) =>
      JSON.stringify({ id: `r-${n}`, content: `Resumable record ${n}.`, ...extra });
    const args = ['ingest', file, '-c', 'kb', '--batch-size', '2', '--url', server.url.toString()];
    const withKey = [...args, '--api-key', key];
    writeFileSync(
      file,
      [1, 2, 3, 4].map((n) => record(n)).join('\n') +
        `\n${record(5, { embedding: [1, 2] })}\n${record(6)}\n`,
    );
    const failed = await runCli(withKey);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/line 5: .*dimensions.*resumable\.jsonl:5/);
    expect(failed.stderr).toContain(
      'documents through 4 are stored: run again with --resume-from-line 5',
    );

    writeFileSync(file, [1, 2, 3, 4, 5, 6].map((n) => record(n)).join('\n'));
    const resumed = await runCli([...withKey, '--resume-from-line', '5', '--json']);
    expect(resumed.code).toBe(0);
    expect(summaryOf(resumed.stdout)).toMatchObject({
      documents: 2,
      sent: 2,
      inserted: 2,
      stream: { throughLine: 6 },
    });

    const refused = await runCli(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/API key/);
  });

  it('a line the CLI cannot read stops the stream there, naming it and where to resume', async () => {
    const file = join(work.path, 'unreadable.jsonl');
    const record = (n: number) =>
      JSON.stringify({ id: `u-${n}`, content: `Unreadable-test record ${n}.` });
    writeFileSync(
      file,
      `${[1, 2, 3, 4].map(record).join('\n')}\n{"id": "u-5", oops\n${record(6)}\n`,
    );
    const args = ['ingest', file, '-c', 'kb', '--batch-size', '2', '--url', server.url.toString()];
    const failed = await runCli([...args, '--api-key', key]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`${file}:5: not valid JSON`);
    // Lines are sent as they are read: the chunks before the bad line may have committed.
    const resume =
      /documents through (\d+) are stored: run again with --resume-from-line (\d+)/.exec(
        failed.stderr,
      );
    const stored = Number(resume?.[1]);
    expect([0, 2, 4]).toContain(stored);
    expect(Number(resume?.[2])).toBe(stored + 1);

    writeFileSync(file, [1, 2, 3, 4, 5, 6].map(record).join('\n'));
    const resumed = await runCli([
      ...args,
      '--api-key',
      key,
      '--resume-from-line',
      String(stored + 1),
      '--json',
    ]);
    expect(resumed.code).toBe(0);
    expect(summaryOf(resumed.stdout)).toMatchObject({
      documents: 6 - stored,
      inserted: 6 - stored,
      stream: { throughLine: 6 },
    });
  });

  it('against a server without documents.stored, sends everything and says so', async () => {
    const target = httpTarget(server.url.toString(), key);
    const client = createQuarryClient({ url: server.url.toString(), apiKey: key });
    // A procedure this server does not have: what an older server answers for documents.stored.
    const absent = (
      client.documents as unknown as Record<string, { query(input: unknown): Promise<never> }>
    ).storedBefore;
    const lines = [1, 2, 3].map((n) => JSON.stringify({ content: `Old server record ${n}.` }));
    const ingest = (documents: string[]) =>
      ingestInput(
        { ...target, stored: (input) => absent!.query(input) },
        { kind: 'stdin', stream: Readable.from([documents.join('\n')]), format: 'jsonl' },
        {
          collection: 'kb',
          batchSize: 2,
          concurrency: 2,
          chunking: { size: 1000, overlap: 150 },
          checkStored: true,
        },
        { setTotal: () => {}, update: () => {} },
      );
    await ingest(lines.slice(0, 1));
    expect(await ingest(lines)).toMatchObject({
      documents: 3,
      sent: 3,
      inserted: 2,
      unchanged: 1,
      storedCheck: 'unsupported',
    });
  });

  it('reports the server refusing the key', async () => {
    const run = await runCli([
      'collections',
      '--url',
      server.url.toString(),
      '--api-key',
      'wrong-key-0123456789abc',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('UNAUTHORIZED');
  });

  it('refuses to open the data directory the server is using', async () => {
    const run = await runCli(['collections', '--data-dir', join(work.path, 'db')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is in use by process');
  });

  it('doctor --url reports the server checks', async () => {
    const run = await runCli(['doctor', '--url', server.url.toString(), '--api-key', key]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^OK\s+migrations\s+\d+ of \d+ migrations applied/m);
    expect(run.stdout).toMatch(/^OK\s+api key\s+accepted/m);
  });
});

describeOnPostgres('quarry migrate and doctor on PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof scratchPostgres>>;
  beforeAll(async () => {
    database = await scratchPostgres(postgresUrl ?? '');
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('doctor fails on an unmigrated database and says to run quarry migrate', async () => {
    const run = await runCli(['doctor', '--database-url', database.url]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL\s+migrations\s+0 of \d+ applied; run `quarry migrate`/m);
  });

  it('migrate applies the migrations, after which doctor passes', async () => {
    const migrated = await runCli(['migrate', '--database-url', database.url]);
    expect(migrated.code).toBe(0);
    const run = await runCli(['doctor', '--database-url', database.url]);
    expect(run.stdout).toMatch(/^OK\s+pooler\s+direct connections/m);
    expect(run.code).toBe(0);
  });

  it('doctor warns when the largest HNSW index outgrows the memory its builds get, and says how to raise it', async () => {
    // An index of a few MB against a server whose sessions get 1 MB of maintenance_work_mem.
    const database_ = await createDb({
      driver: 'postgres',
      url: database.url,
      indexBuildMemory: false,
    });
    try {
      const caller = createCaller(
        createContextInner(
          { database: database_, embeddings: createEmbeddingRegistry([]) },
          openAccess,
        ),
      );
      await caller.collections.create({
        name: 'wide',
        dimensions: 64,
        embeddingModel: 'external/64d',
      });
      for (let batch = 0; batch < 6; batch++) {
        const documents = Array.from({ length: 1_000 }, (_, i) => ({
          content: `wide document ${batch}-${i}`,
          embedding: Array.from({ length: 64 }, (_, d) =>
            Math.sin((batch * 1_000 + i + 1) * (d + 1)),
          ),
        }));
        await caller.documents.ingest({ collection: 'wide', documents });
      }
      await database_.db.execute(
        sql.raw(
          `alter database "${new URL(database.url).pathname.slice(1)}" set maintenance_work_mem = '1MB'`,
        ),
      );
    } finally {
      await database_.close();
    }
    const tight = await runCli(['doctor', '--database-url', database.url], {
      DATABASE_INDEX_BUILD_MEMORY: 'off',
    });
    expect(tight.stdout).toMatch(
      /^WARN\s+index build memory\s+largest HNSW index [\d.]+ MiB, builds get 1(\.0)? MiB of maintenance_work_mem: .*DATABASE_INDEX_BUILD_MEMORY/m,
    );
    const roomy = await runCli(['doctor', '--database-url', database.url], {
      DATABASE_INDEX_BUILD_MEMORY: '256MB',
    });
    expect(roomy.stdout).toMatch(
      /^OK\s+index build memory\s+largest HNSW index [\d.]+ MiB, builds get 256(\.0)? MiB/m,
    );
  });

  it.skipIf(!poolerUrl)(
    'doctor detects PgBouncer in transaction mode and fails until DATABASE_POOLED is set',
    async () => {
      const throughPooler = new URL(poolerUrl ?? '');
      throughPooler.pathname = new URL(database.url).pathname;
      const unset = await runCli(['doctor', '--database-url', throughPooler.toString()]);
      expect(unset.stdout).toMatch(
        /^FAIL\s+pooler\s+a transaction-mode pooler is in front, but DATABASE_POOLED is not set/m,
      );
      const set = await runCli(['doctor', '--database-url', throughPooler.toString()], {
        DATABASE_POOLED: 'true',
      });
      expect(set.stdout).toMatch(/^OK\s+pooler\s+transaction-mode pooler detected/m);
    },
  );
});
