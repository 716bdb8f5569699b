import {
  and,
  assertVectorFits,
  collections,
  desc,
  documents,
  dropVectorIndexes,
  ensureVectorIndex,
  eq,
  inArray,
  indexedVectorType,
  innermostErrorMessage,
  queryRows,
  QuarryError,
  reembedJobs,
  reembedVectors,
  sql,
  withCollectionChangeLock,
  type Collection,
  type Database,
  type ReembedJob,
  type ReembedState,
  type SqlExecutor,
} from '@quarry/db';
import { loadCollection } from './collections';
import type { EmbeddingProvider, EmbeddingRegistry } from './embeddings';

/**
 * Online re-embedding: a collection moves to another embedding model (and possibly another
 * dimension) while it keeps serving.
 *
 * 1. `startReembed` records a job (`reembed_jobs`, state `filling`).
 * 2. A worker in each server process (`startReembedWorker`) fills `reembed_vectors` with the new
 *    model's vector of every document, a batch per transaction. The batch's transaction holds the
 *    job's row (`FOR UPDATE SKIP LOCKED`: a row lock, which PgBouncer's transaction mode keeps), so
 *    two processes never embed the same batch (on the embedded database, which one process owns
 *    and whose one connection every request needs, the provider is called between the batch's
 *    read and its write instead); a batch is an upsert keyed by (job, document), so a
 *    batch cut off by a crash is simply done again. Each shadow vector keeps the content hash it was
 *    made from: a document ingested or changed meanwhile has no vector, or a stale one, and is
 *    embedded again in a later pass. Searches keep reading `documents.embedding` (the old model).
 * 3. When a pass finds nothing left, the switch (state `switching`), under the collection-change
 *    lock: the old HNSW index is dropped (concurrently), then ONE transaction, holding the
 *    collection's row FOR UPDATE (ingests into it wait), embeds whatever changed since the last
 *    pass, copies every shadow vector into `documents.embedding`, and records the new model and
 *    dimensions on the collection. Then the new index is built (concurrently) and the shadow rows
 *    are deleted.
 *
 * Between dropping the old index and finishing the new one the collection is searched exactly
 * (a sequential scan of its rows: right answers, slower). The index cannot be built before the
 * switch: every collection's vectors share the one `documents.embedding` column, and a partial
 * index over `embedding::vector(D)` for the new D cannot be built while the rows still hold the
 * old model's vectors (see apps/server/README.md, "Re-embedding a collection").
 *
 * Every step can be interrupted: the job's state says where to resume, and each step is
 * idempotent.
 */

export interface ReembedTarget {
  /** A model id the server's embedding registry has, e.g. 'openai-compatible/text-embedding-3-small'. */
  model: string;
  /** Checked against the model's own: a model produces one dimension here. */
  dimensions?: number | undefined;
}

export interface ReembedProgress {
  job: number;
  collection: string;
  state: ReembedState;
  from: { model: string; dimensions: number };
  to: { model: string; dimensions: number };
  /** Documents in the collection now. */
  total: number;
  /** Documents whose shadow vector matches their current content (all of them once done). */
  done: number;
  /** Vectors the new model has produced, re-embeds of changed documents included. */
  embedded: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

const unfinished = inArray(reembedJobs.state, ['filling', 'switching']);

/**
 * On Citus, a transaction that reads the distributed documents over several shards at once may
 * not then write the re-embed tables (reference tables); sequential shard access allows both. A
 * placeholder setting, and so nothing, on a database without Citus.
 */
async function sequentialOnCitus(tx: SqlExecutor): Promise<void> {
  await tx.execute(sql`select set_config('citus.multi_shard_modify_mode', 'sequential', true)`);
}

function providerFor(
  embeddings: EmbeddingRegistry,
  target: ReembedTarget,
  collection: Pick<Collection, 'name'>,
): EmbeddingProvider {
  const provider = embeddings.get(target.model);
  if (!provider) {
    const known = embeddings
      .list()
      .map((p) => `'${p.model}' (${p.dimensions})`)
      .join(', ');
    throw new QuarryError(
      'EMBEDDING_PROVIDER_MISMATCH',
      `this server cannot run model '${target.model}' to re-embed collection '${collection.name}'; it has ${known || 'no models'}`,
    );
  }
  if (target.dimensions !== undefined && target.dimensions !== provider.dimensions) {
    throw new QuarryError(
      'DIMENSION_MISMATCH',
      `model '${provider.model}' produces ${provider.dimensions} dimensions here, not ${target.dimensions}`,
    );
  }
  return provider;
}

/**
 * Starts re-embedding collection `name` with `target`'s model; the worker does the rest. Refused
 * (nothing recorded) when the server cannot run the model, the dimensions cannot be indexed, the
 * collection already uses the model, or another re-embed of it is unfinished.
 */
export async function startReembed(
  database: Database,
  embeddings: EmbeddingRegistry,
  name: string,
  target: ReembedTarget,
): Promise<ReembedProgress> {
  const collection = await loadCollection(database.db, name);
  const provider = providerFor(embeddings, target, collection);
  indexedVectorType(provider.dimensions);
  if (provider.model === collection.embeddingModel) {
    throw new QuarryError(
      'INVALID_INPUT',
      `collection '${name}' already uses model '${provider.model}'; nothing to re-embed`,
    );
  }
  const running = await latestJob(database.db, collection.id, true);
  if (running) throw alreadyRunning(name, running);
  try {
    await database.db.insert(reembedJobs).values({
      collectionId: collection.id,
      fromModel: collection.embeddingModel,
      fromDimensions: collection.dimensions,
      toModel: provider.model,
      toDimensions: provider.dimensions,
    });
  } catch (error) {
    // Two starts at once: the partial unique index lets one in.
    const other = await latestJob(database.db, collection.id, true);
    if (other) throw alreadyRunning(name, other);
    throw error;
  }
  for (const wake of workers.get(database.db) ?? []) wake();
  return progressOf(database.db, collection, (await latestJob(database.db, collection.id, true))!);
}

/** The wake-ups of this process's workers per database, so a started job begins at once. */
const workers = new WeakMap<object, Set<() => void>>();

function alreadyRunning(name: string, job: ReembedJob): QuarryError {
  return new QuarryError(
    'INVALID_INPUT',
    `collection '${name}' is already being re-embedded with '${job.toModel}' (job ${job.id}, ${job.state}); wait for it or cancel it first`,
  );
}

async function latestJob(
  db: Database['db'],
  collectionId: number,
  onlyUnfinished: boolean,
): Promise<ReembedJob | undefined> {
  const [job] = await db
    .select()
    .from(reembedJobs)
    .where(and(eq(reembedJobs.collectionId, collectionId), onlyUnfinished ? unfinished : undefined))
    .orderBy(desc(reembedJobs.id))
    .limit(1);
  return job;
}

/** The collection's latest re-embed job with its progress; null when it was never re-embedded. */
export async function reembedProgress(
  database: Database,
  name: string,
): Promise<ReembedProgress | null> {
  const collection = await loadCollection(database.db, name);
  const job = await latestJob(database.db, collection.id, false);
  return job ? progressOf(database.db, collection, job) : null;
}

async function progressOf(
  db: Database['db'],
  collection: Pick<Collection, 'id' | 'name'>,
  job: ReembedJob,
): Promise<ReembedProgress> {
  const [counts] = await queryRows<{ total: number | string; done: number | string }>(
    db,
    sql`select (select count(*) from ${documents} where ${documents.collectionId} = ${collection.id}) as total,
          (select count(*) from ${reembedVectors} v join ${documents} d
             on d.id = v.document_id and d.collection_id = ${collection.id} and d.content_hash = v.content_hash
           where v.job_id = ${job.id}) as done`,
  );
  const total = Number(counts?.total ?? 0);
  return {
    job: job.id,
    collection: collection.name,
    state: job.state,
    from: { model: job.fromModel, dimensions: job.fromDimensions },
    to: { model: job.toModel, dimensions: job.toDimensions },
    total,
    // After the switch the shadow rows are gone: every document then has the new model's vector.
    done: job.state === 'done' ? total : Number(counts?.done ?? 0),
    embedded: job.embedded,
    lastError: job.lastError,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}

/**
 * Cancels the collection's unfinished re-embed before its switch: the collection keeps its model
 * and the shadow vectors are deleted. A job already switching finishes instead (INVALID_INPUT).
 */
export async function cancelReembed(database: Database, name: string): Promise<ReembedProgress> {
  const collection = await loadCollection(database.db, name);
  // Waits for a batch in flight (it holds the job's row), so none writes after the cancel.
  const cancelled = await database.db.transaction(async (tx) => {
    await sequentialOnCitus(tx);
    const [job] = await tx
      .select()
      .from(reembedJobs)
      .where(and(eq(reembedJobs.collectionId, collection.id), unfinished))
      .for('update');
    if (!job) {
      throw new QuarryError('INVALID_INPUT', `collection '${name}' has no re-embed in progress`);
    }
    if (job.state === 'switching') {
      throw new QuarryError(
        'INVALID_INPUT',
        `the re-embed of collection '${name}' is switching to '${job.toModel}' already; it can no longer be cancelled`,
      );
    }
    await tx
      .update(reembedJobs)
      .set({ state: 'cancelled', finishedAt: sql`now()`, updatedAt: sql`now()` })
      .where(eq(reembedJobs.id, job.id));
    await tx.delete(reembedVectors).where(eq(reembedVectors.jobId, job.id));
    return { ...job, state: 'cancelled' as const };
  });
  return progressOf(
    database.db,
    collection,
    (await latestJob(database.db, collection.id, false)) ?? cancelled,
  );
}

interface PendingDocument {
  id: string;
  content: string;
  content_hash: string;
}

/** Documents of the collection without a current shadow vector, by id, after `after` when given. */
async function pendingDocuments(
  executor: SqlExecutor,
  job: Pick<ReembedJob, 'id' | 'collectionId'>,
  limit: number | undefined,
  after: string | undefined,
): Promise<PendingDocument[]> {
  return queryRows<PendingDocument>(
    executor,
    sql`select d.id, d.content, d.content_hash from ${documents} d
        where d.collection_id = ${job.collectionId}
          ${after === undefined ? sql`` : sql`and d.id > ${after}`}
          and not exists (select 1 from ${reembedVectors} v
            where v.job_id = ${job.id} and v.document_id = d.id and v.content_hash = d.content_hash)
        order by d.id ${limit === undefined ? sql`` : sql`limit ${limit}`}`,
  );
}

/** The job's model's vectors of `pending`, checked against the job's dimensions. */
async function embedBatch(
  provider: EmbeddingProvider,
  job: ReembedJob,
  collection: Pick<Collection, 'name' | 'metric'>,
  pending: readonly PendingDocument[],
  signal: AbortSignal | undefined,
): Promise<number[][]> {
  const vectors = await provider.embed(
    pending.map((doc) => doc.content),
    signal ? { signal } : {},
  );
  const shape = { name: collection.name, dimensions: job.toDimensions, metric: collection.metric };
  vectors.forEach((vector, index) =>
    assertVectorFits(shape, vector, `${provider.model}'s vector of document ${pending[index]?.id}`),
  );
  return vectors;
}

/** Upserts the shadow vectors of `pending` (made from the content hashes read); returns how many. */
async function storeBatch(
  executor: Pick<Database['db'], 'insert' | 'update'>,
  job: ReembedJob,
  pending: readonly PendingDocument[],
  vectors: readonly number[][],
): Promise<number> {
  await executor
    .insert(reembedVectors)
    .values(
      pending.map((doc, index) => ({
        jobId: job.id,
        documentId: doc.id,
        contentHash: doc.content_hash,
        embedding: vectors[index]!,
      })),
    )
    .onConflictDoUpdate({
      target: [reembedVectors.jobId, reembedVectors.documentId],
      set: { contentHash: sql`excluded.content_hash`, embedding: sql`excluded.embedding` },
    });
  await executor
    .update(reembedJobs)
    .set({
      embedded: sql`${reembedJobs.embedded} + ${pending.length}`,
      lastError: null,
      updatedAt: sql`now()`,
    })
    .where(eq(reembedJobs.id, job.id));
  return pending.length;
}

/** Embeds `pending` with the job's model and upserts their shadow vectors; returns how many. */
async function embedInto(
  executor: Pick<Database['db'], 'insert' | 'update'>,
  provider: EmbeddingProvider,
  job: ReembedJob,
  collection: Pick<Collection, 'name' | 'metric'>,
  pending: readonly PendingDocument[],
  signal: AbortSignal | undefined,
): Promise<number> {
  if (pending.length === 0) return 0;
  const vectors = await embedBatch(provider, job, collection, pending, signal);
  return storeBatch(executor, job, pending, vectors);
}

export interface ReembedStepOptions {
  /** Documents per batch (one transaction, one provider call). */
  batchSize: number;
  signal?: AbortSignal;
}

/** What one call of `reembedStep` did. */
export type ReembedStepOutcome =
  /** A batch was embedded; more may follow. `cursor` is where the next batch of this pass starts. */
  | { kind: 'embedded'; count: number; cursor: string | undefined }
  /** Another process holds the job (it is embedding a batch or switching). */
  | { kind: 'busy' }
  /** The job switched: the collection now uses the new model. */
  | { kind: 'switched' }
  /** Cancelled, finished elsewhere or gone. */
  | { kind: 'gone' };

/**
 * Advances job `jobId` by one step: a batch of the pass that starts after `cursor` (keyset
 * pagination by document id), or, when a whole pass from the start found nothing left, the switch.
 */
export async function reembedStep(
  database: Database,
  embeddings: EmbeddingRegistry,
  jobId: number,
  cursor: string | undefined,
  options: ReembedStepOptions,
): Promise<ReembedStepOutcome> {
  const batch = await database.db.transaction(async (tx) => {
    await sequentialOnCitus(tx);
    const [job] = await tx
      .select()
      .from(reembedJobs)
      .where(eq(reembedJobs.id, jobId))
      .for('update', { skipLocked: true });
    if (!job) {
      const [exists] = await tx
        .select({ state: reembedJobs.state })
        .from(reembedJobs)
        .where(eq(reembedJobs.id, jobId));
      return exists && (exists.state === 'filling' || exists.state === 'switching')
        ? ({ kind: 'busy' } as const)
        : ({ kind: 'gone' } as const);
    }
    if (job.state === 'done' || job.state === 'cancelled') return { kind: 'gone' } as const;
    if (job.state === 'switching') return { kind: 'switch' as const, job };
    const [collection] = await tx
      .select()
      .from(collections)
      .where(eq(collections.id, job.collectionId));
    if (!collection) return { kind: 'gone' } as const;
    const pending = await pendingDocuments(tx, job, options.batchSize, cursor);
    if (pending.length === 0) {
      // The end of a pass. A pass that began at the start and found nothing: ready to switch.
      if (cursor !== undefined) return { kind: 'embedded' as const, count: 0, cursor: undefined };
      await tx
        .update(reembedJobs)
        .set({ state: 'switching', updatedAt: sql`now()` })
        .where(eq(reembedJobs.id, job.id));
      return { kind: 'switch' as const, job: { ...job, state: 'switching' as const } };
    }
    const provider = providerFor(embeddings, { model: job.toModel }, collection);
    if (database.driver === 'embedded')
      return { kind: 'read' as const, provider, job, collection, pending };
    const count = await embedInto(tx, provider, job, collection, pending, options.signal);
    return { kind: 'embedded' as const, count, cursor: pending.at(-1)?.id };
  });
  if (batch.kind === 'read') {
    // The embedded database has one connection, which a transaction held while the provider
    // answers would take from every request for the whole re-embed. One process owns it, so no
    // other embeds this batch: it is embedded between two transactions, and written only if the
    // job is still filling (a cancel meanwhile wins).
    const vectors = await embedBatch(
      batch.provider,
      batch.job,
      batch.collection,
      batch.pending,
      options.signal,
    );
    return database.db.transaction(async (tx) => {
      const [job] = await tx
        .select()
        .from(reembedJobs)
        .where(eq(reembedJobs.id, jobId))
        .for('update');
      if (job?.state !== 'filling') return { kind: 'gone' } as const;
      const count = await storeBatch(tx, job, batch.pending, vectors);
      return { kind: 'embedded' as const, count, cursor: batch.pending.at(-1)?.id };
    });
  }
  if (batch.kind !== 'switch') return batch;
  return (await switchModel(database, embeddings, batch.job, options))
    ? { kind: 'switched' }
    : { kind: 'busy' };
}

/**
 * The switch of a job in state `switching` (see the module comment). Returns false when another
 * process holds the job. Safe to run again after an interruption at any point.
 */
async function switchModel(
  database: Database,
  embeddings: EmbeddingRegistry,
  job: ReembedJob,
  options: ReembedStepOptions,
): Promise<boolean> {
  return withCollectionChangeLock(database, async () => {
    const [before] = await database.db
      .select()
      .from(collections)
      .where(eq(collections.id, job.collectionId));
    if (!before) return true;
    // The old model's index cannot hold the new vectors (another dimension, another model).
    await dropVectorIndexes(database, before.id);
    const switched = await database.db.transaction(async (tx) => {
      await sequentialOnCitus(tx);
      const [held] = await tx
        .select()
        .from(reembedJobs)
        .where(eq(reembedJobs.id, job.id))
        .for('update', { skipLocked: true });
      if (!held || held.state !== 'switching') return undefined;
      // Ingests into the collection take its row FOR KEY SHARE: they wait from here to the commit.
      const [collection] = await tx
        .select()
        .from(collections)
        .where(eq(collections.id, job.collectionId))
        .for('update');
      if (!collection) return undefined;
      const provider = providerFor(embeddings, { model: held.toModel }, collection);
      // What changed since the last pass: its writers have committed, and no new one can start.
      const late = await pendingDocuments(tx, held, undefined, undefined);
      for (let start = 0; start < late.length; start += options.batchSize) {
        await embedInto(
          tx,
          provider,
          held,
          collection,
          late.slice(start, start + options.batchSize),
          options.signal,
        );
      }
      await tx.execute(
        sql`update ${documents} d set embedding = v.embedding
            from ${reembedVectors} v
            where v.job_id = ${held.id} and v.document_id = d.id and d.collection_id = ${collection.id}`,
      );
      const [updated] = await tx
        .update(collections)
        .set({ embeddingModel: held.toModel, dimensions: held.toDimensions })
        .where(eq(collections.id, collection.id))
        .returning();
      await tx
        .update(reembedJobs)
        .set({ state: 'done', finishedAt: sql`now()`, updatedAt: sql`now()` })
        .where(eq(reembedJobs.id, held.id));
      return updated;
    });
    if (!switched) {
      // Not switched after all (cancelled, or another process has it): the old index comes back.
      const [current] = await database.db
        .select()
        .from(collections)
        .where(eq(collections.id, job.collectionId));
      if (current) await ensureVectorIndex(database, current);
      return false;
    }
    await ensureVectorIndex(database, switched);
    await database.db.delete(reembedVectors).where(eq(reembedVectors.jobId, job.id));
    return true;
  });
}

export interface ReembedWorkerOptions {
  /** Documents per batch (default 256). */
  batchSize?: number;
  /** How often to look for jobs other processes started or left unfinished (default 5,000 ms). */
  pollMs?: number;
  /** Progress and failures, one line each. */
  log?: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;
}

/** How often a running job logs its progress. */
const PROGRESS_LOG_MS = 10_000;

export interface ReembedWorker {
  /** Look for work now (`startReembed` wakes this process's workers itself). */
  wake(): void;
  /** Stops after the batch in flight (its transaction is rolled back if it is cut off). */
  stop(): Promise<void>;
}

/**
 * Runs unfinished re-embed jobs in this process: at start (a restart resumes what a stopped
 * process left), when woken, and every `pollMs`. Deletes the shadow rows that a process stopped
 * between a switch and its clean-up left behind.
 */
export function startReembedWorker(
  database: Database,
  embeddings: EmbeddingRegistry,
  options: ReembedWorkerOptions = {},
): ReembedWorker {
  const batchSize = options.batchSize ?? 256;
  const pollMs = options.pollMs ?? 5_000;
  const log = options.log ?? (() => {});
  const controller = new AbortController();
  let wakeUp: (() => void) | undefined;
  let woken = false;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken || controller.signal.aborted) return resolve();
      const timer = setTimeout(resolve, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      wakeUp = undefined;
      woken = false;
    });

  async function runJob(jobId: number): Promise<void> {
    let cursor: string | undefined;
    let failures = 0;
    let embedded = 0;
    let reportedAt = performance.now();
    while (!controller.signal.aborted) {
      try {
        const outcome = await reembedStep(database, embeddings, jobId, cursor, {
          batchSize,
          signal: controller.signal,
        });
        failures = 0;
        if (outcome.kind === 'busy' || outcome.kind === 'gone') return;
        if (outcome.kind === 'switched') {
          log('info', 're-embed switched', { job: jobId });
          return;
        }
        cursor = outcome.cursor;
        embedded += outcome.count;
        // A line every so often, not per batch: a long job stays visible in the log.
        if (performance.now() - reportedAt >= PROGRESS_LOG_MS) {
          reportedAt = performance.now();
          log('info', 're-embed progress', { job: jobId, embeddedByThisProcess: embedded });
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        failures++;
        const message = innermostErrorMessage(error);
        log('warn', 're-embed batch failed; retrying', { job: jobId, error: message });
        await database.db
          .update(reembedJobs)
          .set({ lastError: message, updatedAt: sql`now()` })
          .where(eq(reembedJobs.id, jobId))
          .catch(() => {});
        await sleep(Math.min(1_000 * 2 ** failures, 60_000));
      }
    }
  }

  async function loop(): Promise<void> {
    while (!controller.signal.aborted) {
      try {
        await database.db.execute(
          sql`delete from ${reembedVectors} v using ${reembedJobs} j
              where j.id = v.job_id and j.state in ('done', 'cancelled')`,
        );
        const jobs = await database.db
          .select({ id: reembedJobs.id })
          .from(reembedJobs)
          .where(unfinished)
          .orderBy(reembedJobs.id);
        for (const job of jobs) await runJob(job.id);
      } catch (error) {
        if (!controller.signal.aborted)
          log('warn', 're-embed worker failed; retrying', { error: innermostErrorMessage(error) });
      }
      await sleep(pollMs);
    }
  }

  const wake = () => {
    woken = true;
    wakeUp?.();
  };
  const registered = workers.get(database.db) ?? new Set();
  registered.add(wake);
  workers.set(database.db, registered);
  const running = loop();
  return {
    wake,
    async stop() {
      registered.delete(wake);
      controller.abort();
      wakeUp?.();
      await running;
    },
  };
}
