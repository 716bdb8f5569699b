import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { RouterInputs } from '@quarry/api';
import { z } from 'zod';
import { chunkFile, MARKDOWN_EXTENSIONS, type ChunkOptions } from '@quarry/corpus/text-chunk';

export type IngestDocument = RouterInputs['documents']['ingest']['documents'][number];

/** One document to ingest and where it came from, for error messages. */
export interface SourcedDocument {
  document: IngestDocument;
  origin: string;
}

export class InputError extends Error {
  override readonly name = 'InputError';
}

const jsonlLineSchema = z
  .object({
    content: z.string().min(1, 'content must be a non-empty string'),
    metadata: z.record(z.string(), z.json()).optional(),
    // Checked by hand (isNumberArray): zod's pass over 1,536 components per line cost more than parsing them.
    embedding: z.unknown().optional(),
    id: z.union([z.string().min(1), z.number()]).optional(),
  })
  .strict();

const JSONL_EXTENSIONS = new Set(['.jsonl', '.ndjson']);
const TEXT_EXTENSIONS = new Set(['.txt', '.text', '.rst', '.adoc']);
export const INGESTIBLE_EXTENSIONS = [
  ...JSONL_EXTENSIONS,
  ...MARKDOWN_EXTENSIONS,
  ...TEXT_EXTENSIONS,
];

function parseJsonLine(line: string, origin: string): IngestDocument {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new InputError(
      `${origin}: not valid JSON; each line must be one object like {"content": "...", "metadata": {...}}`,
    );
  }
  const parsed = jsonlLineSchema.safeParse(value);
  if (
    parsed.success &&
    parsed.data.embedding !== undefined &&
    !isNumberArray(parsed.data.embedding)
  ) {
    throw new InputError(
      `${origin}: embedding: must be a non-empty array of numbers (fields: content, metadata, embedding, id)`,
    );
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new InputError(
      `${origin}: ${field}${issue?.message ?? 'invalid line'} (fields: content, metadata, embedding, id)`,
    );
  }
  const { content, metadata, embedding, id } = parsed.data;
  return {
    content,
    ...(metadata ? { metadata } : {}),
    ...(embedding !== undefined ? { embedding: embedding as number[] } : {}),
    ...(id !== undefined ? { externalId: String(id) } : {}),
  };
}

function isNumberArray(value: unknown): value is number[] {
  if (!Array.isArray(value) || value.length === 0) return false;
  for (const component of value) if (typeof component !== 'number') return false;
  return true;
}

/**
 * The stream's lines (split at LF, a CR before it dropped): readline's per-line events and
 * pattern cost more than the JSON of a line of 1,536 numbers does to parse.
 */
export async function* textLines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of stream) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    let start = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', start)) {
      const end = newline > start && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      yield text.slice(start, end);
      start = newline + 1;
    }
    rest = text.slice(start);
  }
  rest += decoder.end();
  if (rest.length > 0) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}

async function* jsonlLines(stream: Readable, name: string): AsyncGenerator<SourcedDocument> {
  let lineNumber = 0;
  for await (const line of textLines(stream)) {
    lineNumber++;
    if (!line.trim()) continue;
    const origin = `${name}:${lineNumber}`;
    yield { document: parseJsonLine(line, origin), origin };
  }
}

function textDocuments(
  text: string,
  name: string,
  markdown: boolean,
  chunking: ChunkOptions,
): SourcedDocument[] {
  return chunkFile(text, name, markdown, chunking).map((document, index) => ({
    document,
    origin: `${name}#${index}`,
  }));
}

/** Files under the given paths that `quarry ingest` reads, in a stable order. Hidden entries and node_modules are skipped. */
export async function listInputFiles(
  paths: readonly string[],
): Promise<Array<{ path: string; name: string }>> {
  const files: Array<{ path: string; name: string }> = [];
  async function walk(root: string, dir: string) {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(root, full);
      else if (entry.isFile() && INGESTIBLE_EXTENSIONS.includes(extname(entry.name).toLowerCase()))
        files.push({ path: full, name: relative(root, full) });
    }
  }
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new InputError(`${path}: no such file or directory`);
    if (info.isDirectory()) await walk(path, path);
    else files.push({ path, name: path });
  }
  return files;
}

export type InputSource =
  | { kind: 'files'; paths: string[] }
  | { kind: 'stdin'; stream: Readable; format: 'jsonl' | 'text' | 'markdown' };

/** Every document the input holds, in order; files are read one at a time. */
export async function* readDocuments(
  source: InputSource,
  chunking: ChunkOptions,
): AsyncGenerator<SourcedDocument> {
  if (source.kind === 'stdin') {
    if (source.format === 'jsonl') {
      yield* jsonlLines(source.stream, 'stdin');
      return;
    }
    let text = '';
    for await (const chunk of source.stream) text += String(chunk);
    yield* textDocuments(text, 'stdin', source.format === 'markdown', chunking);
    return;
  }
  for (const file of await listInputFiles(source.paths)) {
    const extension = extname(file.path).toLowerCase();
    if (JSONL_EXTENSIONS.has(extension)) {
      yield* jsonlLines(createReadStream(file.path, { highWaterMark: 1 << 20 }), file.name);
    } else {
      yield* textDocuments(
        await readFile(file.path, 'utf8'),
        file.name,
        MARKDOWN_EXTENSIONS.has(extension),
        chunking,
      );
    }
  }
}

/** How many documents the input holds, without keeping them: for the progress bar's total. */
export async function countDocuments(source: InputSource, chunking: ChunkOptions): Promise<number> {
  let count = 0;
  for await (const item of readDocuments(source, chunking)) if (item) count++;
  return count;
}
