/**
 * Re-renders bench/results/latest.md and the README's benchmark section from latest.json, without
 * measuring again: for when the report's wording changes. `pnpm --filter @quarry/bench render`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultOutDir, readmePath } from './config';
import {
  renderMarkdown,
  renderReadmeSection,
  replaceReadmeSection,
  type BenchResult,
} from './report';

const result = JSON.parse(
  await readFile(join(defaultOutDir, 'latest.json'), 'utf8'),
) as BenchResult;
await writeFile(join(defaultOutDir, 'latest.md'), renderMarkdown(result));
await writeFile(
  readmePath,
  replaceReadmeSection(await readFile(readmePath, 'utf8'), renderReadmeSection(result)),
);
console.log(`re-rendered ${join(defaultOutDir, 'latest.md')} and the README's benchmark section`);
