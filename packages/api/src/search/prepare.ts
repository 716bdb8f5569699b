import { assertVectorFits, documents, eq, QuarryError, type Database, type SQL } from '@quarry/db';
import type { Principal } from '../auth';
import {
  cachedCollection,
  collectionIsCurrent,
  documentInScope,
  embeddingProviderFor,
  forgetCollection,
  isCollectionCached,
} from '../collections';
import type { Context } from '../context';
import { compileFilter } from '../filter';
import { createdRangeConditions } from '../inputs';
import { contentPreviewChars } from '../response-budget';
import { resolveTenant } from '../tenancy';
import { StaleReadError } from '../transaction';
import type { SearchInput } from './input';
import type { PreparedQuery } from './types';

/** The request's own limits, checked before anything is read: k, hybrid candidates, explain. */
export function checkSearchLimits(ctx: Context, principal: Principal, input: SearchInput): void {
  if (input.k > ctx.limits.maxK) {
    throw new QuarryError(
      'INVALID_INPUT',
      `k is at most ${ctx.limits.maxK} on this server, got ${input.k}; page with a threshold or a filter instead`,
    );
  }
  if (input.k + input.offset > ctx.limits.maxK) {
    throw new QuarryError(
      'INVALID_INPUT',
      `k + offset is at most ${ctx.limits.maxK} on this server, got ${input.k} + ${input.offset}; narrow the query with a threshold or a filter instead of paging further`,
    );
  }
  if (input.hybrid.candidates !== undefined && input.hybrid.candidates > ctx.limits.maxK) {
    throw new QuarryError(
      'INVALID_INPUT',
      `hybrid.candidates is at most ${ctx.limits.maxK} on this server, got ${input.hybrid.candidates}`,
    );
  }
  if (input.explain && principal.tenant !== undefined) {
    throw new QuarryError(
      'FORBIDDEN',
      `explain needs an API key not bound to a tenant: query plans count the rows of every tenant in the collection, and this key is bound to tenant '${principal.tenant}'`,
    );
  }
}

/**
 * Resolves everything a search needs before touching the documents: collection, tenant, query
 * vector, filter. `database` (a replica from `onReplica`, or the primary) answers all of it.
 */
export async function prepareQuery(
  ctx: Context,
  principal: Principal,
  input: SearchInput,
  database: Database,
): Promise<PreparedQuery> {
  const reader = database.db;
  const cached = await cachedCollection(reader, input.collection);
  const { collection } = cached;
  const tenant = resolveTenant(principal, input.tenant, 'read');
  if (input.mode !== 'vector' && !input.text) {
    throw new QuarryError('INVALID_INPUT', `${input.mode} search needs query text ('text')`);
  }
  const vector = await queryVector(ctx, input, reader, collection, tenant);
  if (input.minSimilarity !== undefined && !vector) {
    throw new QuarryError(
      'INVALID_INPUT',
      'minSimilarity needs a query vector (or text the collection can embed)',
    );
  }
  const restrictions: SQL[] = [];
  if (tenant !== undefined) restrictions.push(eq(documents.tenantId, tenant));
  restrictions.push(...createdRangeConditions(input));
  const filter = compileFilter(input.filter);
  if (filter) restrictions.push(filter);
  const contentChars = contentPreviewChars(ctx.limits, input.contentMaxChars);
  return {
    collection,
    collectionIsCurrent: currentGuardOf(cached),
    tenant,
    vector,
    restrictions,
    filter,
    reader,
    contentChars,
  };
}

/**
 * One guard per cached collection row, so the statement that evaluates it with the request's
 * settings is built once for it (see @quarry/api's transaction.ts applySettings).
 */
const currentGuards = new WeakMap<object, SQL<boolean>>();

function currentGuardOf(cached: Parameters<typeof collectionIsCurrent>[0]): SQL<boolean> {
  let guard = currentGuards.get(cached);
  if (!guard) currentGuards.set(cached, (guard = collectionIsCurrent(cached)));
  return guard;
}

/** The query vector: as sent, a stored document's ("more like this"), or the text embedded. */
async function queryVector(
  ctx: Context,
  input: SearchInput,
  reader: Database['db'],
  collection: PreparedQuery['collection'],
  tenant: string | undefined,
): Promise<number[] | undefined> {
  if (input.vector) {
    assertVectorFits(collection, input.vector, 'query vector');
    return input.vector;
  }
  if (input.likeDocumentId) {
    const scope = documentInScope(collection, input.likeDocumentId, tenant);
    const [row] = await reader
      .select({ embedding: documents.embedding })
      .from(documents)
      .where(scope.where);
    if (!row?.embedding) throw scope.notFound(' or has no embedding');
    // A zero vector stored before cosine collections refused it has no cosine distance either.
    assertVectorFits(
      collection,
      row.embedding,
      `the stored vector of document ${input.likeDocumentId}`,
    );
    return row.embedding;
  }
  if (input.mode === 'keyword') return undefined;
  if (!input.text) {
    throw new QuarryError(
      'INVALID_INPUT',
      'vector search needs a query: text, vector or likeDocumentId',
    );
  }
  const provider = embeddingProviderFor(
    ctx.embeddings,
    collection,
    'send a query vector instead of text',
  );
  const [embedded = []] = await provider.embed([input.text]);
  assertVectorFits(collection, embedded, 'embedded query text');
  return embedded;
}

/** Reads of a collection that keeps changing under them: after these, the caller is told to retry. */
const CURRENT_COLLECTION_ATTEMPTS = 3;

/**
 * Runs a read that used the cached collection (`prepareQuery`); when its guard found the row
 * changed, forgets it and runs the read again from a fresh lookup (which also turns a deleted
 * collection into COLLECTION_NOT_FOUND). A collection changed again during each of the attempts
 * (an index rebuilt, a delete and a create under its name) is a 409 to send again, not a 500.
 */
export async function withCurrentCollection<T>(
  database: Database,
  name: string,
  read: () => Promise<T>,
): Promise<T> {
  let fromCache = isCollectionCached(database.db, name);
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      // A refusal that came before the guard (a vector of another dimension, a model this server
      // lacks) may have been judged against a stale row: judged again against a fresh one.
      const stale = error instanceof StaleReadError || (fromCache && error instanceof QuarryError);
      if (!stale) throw error;
      if (attempt >= CURRENT_COLLECTION_ATTEMPTS) {
        if (!(error instanceof StaleReadError)) throw error;
        throw new QuarryError(
          'TRANSACTION_CONFLICT',
          `collection '${name}' changed while this request read it, ${attempt} times; send it again`,
          { cause: error },
        );
      }
      forgetCollection(database.db, name);
      fromCache = false;
    }
  }
}
