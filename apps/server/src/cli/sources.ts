import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import type { RouterInputs } from '@quarry/api';
import { z } from 'zod';
import { chunkFile, MARKDOWN_EXTENSIONS, type ChunkOptions } from '@quarry/corpus/text-chunk';
import { BASE64_VECTOR_FORM, decodeBase64Vector } from '@quarry/api/vector-base64';
import { readNumberArray } from './number-array';

/** A document as the CLI sends it: its vector, when it has one, as numbers (the client encodes them). */
export type IngestDocument = Omit<
  RouterInputs['documents']['ingest']['documents'][number],
  'embedding'
> & { embedding?: number[] };

export class InputError extends Error {
  override readonly name = 'InputError';
}

const jsonlLineSchema = z
  .object({
    content: z.string().min(1, 'content must be a non-empty string'),
    metadata: z.record(z.string(), z.json()).optional(),
    // Checked by hand (vectorOf): zod's pass over 1,536 components per line cost more than parsing them.
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

/**
 * How JSONL embeddings are handed on: `numbers` as the document's `embedding` (what
 * `documents.ingest` takes), `float32` as the item's `vector`, read from the line's bytes without
 * JSON.parse making a number of each component (what the streaming endpoint is sent).
 */
export type VectorForm = 'numbers' | 'float32';

/** One document to ingest and where it came from, for error messages. */
export interface SourcedDocument {
  document: IngestDocument;
  origin: string;
  /** With `float32` vectors: the embedding, which `document` then does not hold. */
  vector?: Float32Array;
}

function parseJson(text: string, origin: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError(
      `${origin}: not valid JSON; each line must be one object like {"content": "...", "metadata": {...}}`,
    );
  }
}

/**
 * A line's `embedding`: a non-empty array of numbers, or a base64 string of float32 components
 * (OpenAI's `encoding_format: "base64"`, `quarry export --vectors base64`), as numbers.
 */
function vectorOf(embedding: unknown, origin: string): number[] {
  if (isNumberArray(embedding)) return embedding;
  const decoded = typeof embedding === 'string' ? decodeBase64Vector(embedding) : undefined;
  if (decoded) return Array.from(decoded);
  throw new InputError(
    `${origin}: embedding: must be a non-empty array of numbers or ${BASE64_VECTOR_FORM} (fields: content, metadata, embedding, id)`,
  );
}

/** The line's fields checked; `vectorRead`: its embedding was read apart (readVector) and is not checked here. */
function checkedDocument(value: unknown, origin: string, vectorRead: boolean): IngestDocument {
  const parsed = jsonlLineSchema.safeParse(value);
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
    ...(embedding !== undefined && !vectorRead ? { embedding: vectorOf(embedding, origin) } : {}),
    ...(id !== undefined ? { externalId: String(id) } : {}),
  };
}

function isNumberArray(value: unknown): value is number[] {
  if (!Array.isArray(value) || value.length === 0) return false;
  for (const component of value) if (typeof component !== 'number') return false;
  return true;
}

const EMBEDDING_KEY = Buffer.from('"embedding"');
/** Stands in for the vector in the rest of the line; random, so no input can hold it. */
const VECTOR_MARK = `quarry-vector-${randomUUID()}`;
/** Where readVector reads a vector's components (grown with the lines), before they are copied out. */
let components = new Float32Array(4096);
/**
 * The most components read on the fast path: above pgvector's 16,000 dimensions (a longer array
 * is read the ordinary way and refused by the server).
 */
const MAX_FAST_COMPONENTS = 1 << 16;

/**
 * The line's top-level `embedding` read from its bytes into float32 (an array by readNumberArray, a
 * base64 string by the decoder), and the rest of the line (the vector replaced by a mark) parsed as
 * JSON. Undefined when the line is not of that shape (no such array or string, an array of
 * something else, an escape in the string, the key elsewhere, invalid JSON): the ordinary path then
 * reads it and names any problem, so both paths accept the same lines.
 */
function readVector(
  line: Buffer,
): { value: Record<string, unknown>; vector: Float32Array } | undefined {
  const bytes = new Uint8Array(line.buffer, line.byteOffset, line.length);
  for (
    let key = line.indexOf(EMBEDDING_KEY);
    key >= 0;
    key = line.indexOf(EMBEDDING_KEY, key + 1)
  ) {
    let at = key + EMBEDDING_KEY.length;
    while (bytes[at] === 32 || bytes[at] === 9 || bytes[at] === 13) at++;
    if (bytes[at] !== 58) continue;
    at++;
    while (bytes[at] === 32 || bytes[at] === 9 || bytes[at] === 13) at++;
    const read = bytes[at] === QUOTE ? readBase64(line, at) : readArray(bytes, at);
    if (!read) return undefined;
    const rest = `${line.toString('utf8', 0, at)}"${VECTOR_MARK}"${line.toString('utf8', read.end)}`;
    let value: unknown;
    try {
      value = JSON.parse(rest);
    } catch {
      return undefined;
    }
    const fields = value as Record<string, unknown> | null;
    if (typeof fields !== 'object' || fields === null || fields.embedding !== VECTOR_MARK)
      return undefined;
    fields.embedding = undefined;
    return { value: fields, vector: read.vector };
  }
  return undefined;
}

const QUOTE = 34;
const OPEN_BRACKET = 91;

/** The JSON array of numbers at `bytes[at]`, and the index after it. */
function readArray(
  bytes: Uint8Array,
  at: number,
): { vector: Float32Array; end: number } | undefined {
  if (bytes[at] !== OPEN_BRACKET) return undefined;
  // Each component takes at least two bytes ("0,"): room for all the line may hold.
  const room = Math.min(((bytes.length - at) >> 1) + 1, MAX_FAST_COMPONENTS);
  if (components.length < room) components = new Float32Array(room);
  const read = readNumberArray(bytes, at, components);
  return read && { vector: components.slice(0, read.count), end: read.end };
}

/** The base64 string at `line[at]` (its opening quote) decoded, and the index after its closing quote. */
function readBase64(line: Buffer, at: number): { vector: Float32Array; end: number } | undefined {
  const close = line.indexOf(QUOTE, at + 1);
  if (close < 0) return undefined;
  // An escape (a backslash) is not in the alphabet: the decoding fails, and the ordinary path reads
  // the line (JSON.parse unescapes the string, which is then decoded).
  const vector = decodeBase64Vector(line.toString('latin1', at + 1, close));
  return vector && { vector, end: close + 1 };
}

/** ASCII whitespace, or (when a line starts otherwise outside ASCII) what String.trim removes. */
function isBlank(line: Buffer): boolean {
  for (const byte of line) {
    if (byte === 32 || (byte >= 9 && byte <= 13)) continue;
    return byte >= 0x80 && line.toString('utf8').trim() === '';
  }
  return true;
}

function parseJsonLine(line: Buffer, origin: string, vectors: VectorForm): SourcedDocument {
  const fast = vectors === 'float32' ? readVector(line) : undefined;
  if (fast)
    return { document: checkedDocument(fast.value, origin, true), origin, vector: fast.vector };
  const document = checkedDocument(parseJson(line.toString('utf8'), origin), origin, false);
  if (vectors === 'numbers' || !document.embedding) return { document, origin };
  const { embedding, ...rest } = document;
  return { document: rest, origin, vector: Float32Array.from(embedding) };
}

/**
 * The stream's lines as bytes (split at LF, a CR before it dropped): a line is decoded only where
 * it must be (a vector's digits are read as bytes), and readline's per-line events cost more than
 * the JSON of a line of 1,536 numbers does to parse.
 */
export async function* byteLines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  const line = (head: Buffer) => {
    const whole = pending.length > 0 ? Buffer.concat([...pending, head]) : head;
    pending = [];
    return whole.at(-1) === 13 ? whole.subarray(0, -1) : whole;
  };
  for await (const piece of stream) {
    let chunk = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    for (let newline = chunk.indexOf(10); newline >= 0; newline = chunk.indexOf(10)) {
      yield line(chunk.subarray(0, newline));
      chunk = chunk.subarray(newline + 1);
    }
    if (chunk.length > 0) pending.push(chunk);
  }
  if (pending.length > 0) yield line(Buffer.alloc(0));
}

async function* jsonlLines(
  stream: Readable,
  name: string,
  vectors: VectorForm,
): AsyncGenerator<SourcedDocument> {
  let lineNumber = 0;
  for await (const line of byteLines(stream)) {
    lineNumber++;
    if (isBlank(line)) continue;
    yield parseJsonLine(line, `${name}:${lineNumber}`, vectors);
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
  vectors: VectorForm = 'numbers',
): AsyncGenerator<SourcedDocument> {
  if (source.kind === 'stdin') {
    if (source.format === 'jsonl') {
      yield* jsonlLines(source.stream, 'stdin', vectors);
      return;
    }
    // Decoded whole: a piece of the stream may end inside a character.
    const pieces: Buffer[] = [];
    for await (const piece of source.stream as AsyncIterable<Buffer | string>)
      pieces.push(typeof piece === 'string' ? Buffer.from(piece) : piece);
    const text = Buffer.concat(pieces).toString('utf8');
    yield* textDocuments(text, 'stdin', source.format === 'markdown', chunking);
    return;
  }
  for await (const file of inputFiles(source.paths, chunking)) {
    if (file.kind === 'jsonl') yield* jsonlLines(file.stream, file.name, vectors);
    else yield* file.documents;
  }
}

/** The input's files in order, one at a time: a JSONL file as its stream, any other as its chunks. */
async function* inputFiles(
  paths: readonly string[],
  chunking: ChunkOptions,
): AsyncGenerator<
  { kind: 'jsonl'; name: string; stream: Readable } | { kind: 'text'; documents: SourcedDocument[] }
> {
  for (const file of await listInputFiles(paths)) {
    const extension = extname(file.path).toLowerCase();
    if (JSONL_EXTENSIONS.has(extension)) {
      const stream = createReadStream(file.path, { highWaterMark: 1 << 20 });
      yield { kind: 'jsonl', name: file.name, stream };
    } else {
      const text = await readFile(file.path, 'utf8');
      const markdown = MARKDOWN_EXTENSIONS.has(extension);
      yield { kind: 'text', documents: textDocuments(text, file.name, markdown, chunking) };
    }
  }
}

/**
 * How many documents the input holds, without keeping them: for the progress bar's total.
 * `checked`: every document is read and checked, so bad input fails here, before anything is
 * written. Otherwise a JSONL file's non-blank lines are counted from its bytes, unparsed: a stream
 * checks each line as it sends it, and reading a file of JSON vectors twice had doubled the time
 * of the load (a text or Markdown file is chunked either way).
 */
export async function countDocuments(
  source: InputSource,
  chunking: ChunkOptions,
  checked: boolean,
): Promise<number> {
  let count = 0;
  if (checked || source.kind === 'stdin') {
    for await (const item of readDocuments(source, chunking)) if (item) count++;
    return count;
  }
  for await (const file of inputFiles(source.paths, chunking)) {
    if (file.kind === 'text') count += file.documents.length;
    else for await (const line of byteLines(file.stream)) if (!isBlank(line)) count++;
  }
  return count;
}
