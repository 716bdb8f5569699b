import {
  chunkFile,
  isMarkdownFile,
  type ChunkedFileDocument,
  type ChunkOptions,
} from '@quarry/corpus/text-chunk';

/** The CLI's defaults (`quarry ingest --chunk-size 1000 --chunk-overlap 150`). */
export const DEFAULT_CHUNKING: ChunkOptions = { size: 1000, overlap: 150 };
/** Documents per `documents.ingest` call: each call is one transaction, and progress moves per call. */
export const UPLOAD_BATCH = 50;

export interface PlannedFile {
  name: string;
  markdown: boolean;
  documents: ChunkedFileDocument[];
}

/** A problem with the chunk settings, in the form's words, or undefined when they are usable. */
export function chunkingProblem(options: ChunkOptions): string | undefined {
  if (!Number.isInteger(options.size) || options.size < 50)
    return 'the chunk size is a whole number of at least 50 characters';
  if (!Number.isInteger(options.overlap) || options.overlap < 0 || options.overlap >= options.size)
    return 'the overlap is a whole number from 0 to below the chunk size';
  return undefined;
}

export function planFile(name: string, text: string, options: ChunkOptions): PlannedFile {
  const markdown = isMarkdownFile(name);
  return { name, markdown, documents: chunkFile(text, name, markdown, options) };
}

/** The requests an upload makes, in order: each file's chunks in batches of `size`. */
export function batches<T>(items: readonly T[], size = UPLOAD_BATCH): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size)
    result.push(items.slice(start, start + size));
  return result;
}
