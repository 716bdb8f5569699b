/**
 * A fresh process that opens an existing embedded (PGlite) Quarry database and answers one search:
 * `tsx cold-start.ts <data-dir> <query.json>` prints the timings as JSON. performance.now() counts
 * from this process's start, so `firstResultMs` includes Node's start, module loading and WASM.
 */
import { readFile } from 'node:fs/promises';

const [dataDir, queryFile] = process.argv.slice(2);
if (!dataDir || !queryFile) throw new Error('usage: cold-start.ts <data-dir> <query.json>');

const importsStarted = performance.now();
const { createDb, migrate } = await import('@quarry/db');
const { createCaller, createContextInner, openAccess } = await import('@quarry/api');
const { createEmbeddingRegistry } = await import('@quarry/api/embeddings');
const query: unknown = JSON.parse(await readFile(queryFile, 'utf8'));
if (!Array.isArray(query) || !query.every((value) => typeof value === 'number'))
  throw new Error('query.json must hold an array of numbers');
const vector: number[] = query;
const openStarted = performance.now();
const database = await createDb({ driver: 'embedded', dataDir });
const migrateStarted = performance.now();
await migrate(database);
const opened = performance.now();
const caller = createCaller(
  createContextInner({ database, embeddings: createEmbeddingRegistry([]) }, openAccess),
);
const response = await caller.search.query({ collection: 'bench', vector, k: 10 });
const firstResult = performance.now();
await database.close();
process.stdout.write(
  `${JSON.stringify({
    processStartToImportsMs: importsStarted,
    importsMs: openStarted - importsStarted,
    openMs: migrateStarted - openStarted,
    migrateMs: opened - migrateStarted,
    firstSearchMs: firstResult - opened,
    firstResultMs: firstResult,
    results: response.results.length,
  })}\n`,
);
