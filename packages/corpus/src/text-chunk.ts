export interface ChunkOptions {
  /** Most characters in one chunk. */
  size: number;
  /** Characters of the end of one chunk repeated at the start of the next, so a passage cut at a boundary is still found whole. */
  overlap: number;
}

export interface TextChunk {
  content: string;
  /** The Markdown heading the chunk sits under, if any. */
  heading?: string;
}

export function assertChunkOptions(options: ChunkOptions): void {
  if (!Number.isInteger(options.size) || options.size < 50)
    throw new Error(
      `--chunk-size must be a whole number of at least 50 characters, got ${options.size}`,
    );
  if (
    !Number.isInteger(options.overlap) ||
    options.overlap < 0 ||
    options.overlap >= options.size
  ) {
    throw new Error(
      `--chunk-overlap must be a whole number from 0 to below --chunk-size (${options.size}), got ${options.overlap}`,
    );
  }
}

/** Splits a run of text no longer than `size` at whitespace; a single longer word is cut hard. */
function splitLong(text: string, size: number): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (word.length > size) {
      if (current) pieces.push(current);
      current = '';
      for (let start = 0; start < word.length; start += size)
        pieces.push(word.slice(start, start + size));
      continue;
    }
    if (current && current.length + 1 + word.length > size) {
      pieces.push(current);
      current = word;
    } else {
      current = current ? `${current} ${word}` : word;
    }
  }
  if (current) pieces.push(current);
  return pieces;
}

interface Unit {
  text: string;
  /** The unit starts a new paragraph (joined with a blank line rather than a space). */
  paragraphStart: boolean;
}

/** Sentences within paragraphs, none longer than `size`. */
function units(text: string, size: number): Unit[] {
  const result: Unit[] = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    const normalized = paragraph.replace(/[ \t]*\n[ \t]*/g, '\n').trim();
    if (!normalized) continue;
    // A sentence ends at . ! or ? followed by whitespace; good enough for prose and keeps code lines intact.
    const sentences = normalized.split(/(?<=[.!?])\s+(?=\S)/);
    sentences.forEach((sentence, index) => {
      const pieces = sentence.length > size ? splitLong(sentence, size) : [sentence];
      pieces.forEach((piece, pieceIndex) =>
        result.push({ text: piece, paragraphStart: index === 0 && pieceIndex === 0 }),
      );
    });
  }
  return result;
}

const join = (parts: readonly Unit[]) =>
  parts
    .map((unit, index) =>
      index === 0 ? unit.text : `${unit.paragraphStart ? '\n\n' : ' '}${unit.text}`,
    )
    .join('');
const joinedLength = (parts: readonly Unit[]) => join(parts).length;

/**
 * Packs whole sentences (and paragraphs) into chunks of at most `size` characters; a sentence is
 * split only when it alone is longer. Each chunk after the first starts with the last sentences of
 * the previous one, up to `overlap` characters.
 */
export function chunkText(text: string, options: ChunkOptions): string[] {
  assertChunkOptions(options);
  const chunks: string[] = [];
  let current: Unit[] = [];
  let fresh = 0; // units in `current` not yet emitted in an earlier chunk
  for (const unit of units(text, options.size)) {
    if (current.length > 0 && joinedLength([...current, unit]) > options.size) {
      chunks.push(join(current));
      const carried: Unit[] = [];
      for (let index = current.length - 1; index >= 0; index--) {
        const candidate = [current[index] as Unit, ...carried];
        if (joinedLength(candidate) > options.overlap) break;
        carried.unshift(current[index] as Unit);
      }
      // The overlap never crowds out the new sentence.
      while (carried.length > 0 && joinedLength([...carried, unit]) > options.size) carried.shift();
      current = carried;
      fresh = 0;
    }
    current.push(unit);
    fresh++;
  }
  if (fresh > 0) chunks.push(join(current));
  return chunks;
}

/** Markdown: chunks never span sections, and each knows its heading. */
export function chunkMarkdown(text: string, options: ChunkOptions): TextChunk[] {
  const sections: Array<{ heading: string | undefined; lines: string[] }> = [
    { heading: undefined, lines: [] },
  ];
  let inFence = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (heading) sections.push({ heading: heading[1], lines: [line] });
    else sections.at(-1)?.lines.push(line);
  }
  return sections.flatMap((section) =>
    chunkText(section.lines.join('\n'), options).map((content) =>
      section.heading ? { content, heading: section.heading } : { content },
    ),
  );
}

/** What a file's chunk is ingested as: its text, and where it came from. */
export interface ChunkedFileDocument {
  content: string;
  metadata: { source: string; chunk: number; heading?: string };
}

/** Files chunked as Markdown (by heading) rather than as plain text. */
export const MARKDOWN_EXTENSIONS: ReadonlySet<string> = new Set(['.md', '.markdown', '.mdx']);

export function isMarkdownFile(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot >= 0 && MARKDOWN_EXTENSIONS.has(name.slice(dot).toLowerCase());
}

/**
 * A text or Markdown file as the documents `quarry ingest` and the dashboard's upload write: one per
 * chunk, with the file's name, the chunk's number and (Markdown) its heading as metadata.
 */
export function chunkFile(
  text: string,
  name: string,
  markdown: boolean,
  options: ChunkOptions,
): ChunkedFileDocument[] {
  const chunks = markdown
    ? chunkMarkdown(text, options)
    : chunkText(text, options).map((content): TextChunk => ({ content }));
  return chunks.map((chunk, index) => ({
    content: chunk.content,
    metadata: { source: name, chunk: index, ...(chunk.heading ? { heading: chunk.heading } : {}) },
  }));
}
