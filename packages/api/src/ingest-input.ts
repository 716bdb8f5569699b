import { z } from 'zod';
import type { Metadata } from '@quarry/db';
import { isStorableText, storableText, vectorSchema } from './inputs';
import { HARD_LIMITS } from './limits';

/** Levels of arrays and objects in `value`, counted without recursion and only up to `cap + 1`. */
function nestingDepthUpTo(value: unknown, cap: number): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, depth] = next;
    if (node === null || typeof node !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > cap) return deepest;
    for (const inner of Object.values(node)) pending.push([inner, depth + 1]);
  }
  return deepest;
}

const metadataText = storableText(z.string());
const METADATA_KEY_CHARS = 256;
const metadataKey = storableText(z.string().max(METADATA_KEY_CHARS));

/**
 * Checks a JSON value in place and reports each problem at its path. The value is never rebuilt:
 * a rebuilt object (zod's `record`, `{}` plus assignments) turns a key named `__proto__` into the
 * object's prototype and the key disappears, while JSON.parse made it an own key like any other.
 */
function checkJsonValue(
  value: unknown,
  path: Array<string | number>,
  report: (message: string, path: Array<string | number>) => void,
): void {
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) report('must be a finite number', path);
    return;
  }
  if (typeof value === 'string') {
    // The schemas run only to word a problem: a schema per string is most of a line's checking.
    if (isStorableText(value)) return;
    const checked = metadataText.safeParse(value);
    if (!checked.success) report(checked.error.issues[0]?.message ?? 'invalid text', path);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((inner, index) => checkJsonValue(inner, [...path, index], report));
    return;
  }
  // A plain object, or one made with a null prototype (Object.create(null)): both are JSON objects.
  const prototype: unknown = typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (typeof value === 'object' && (prototype === Object.prototype || prototype === null)) {
    for (const [key, inner] of Object.entries(value)) {
      const checked =
        key.length <= METADATA_KEY_CHARS && isStorableText(key)
          ? undefined
          : metadataKey.safeParse(key);
      if (checked && !checked.success)
        report(`key: ${checked.error.issues[0]?.message ?? 'invalid key'}`, [...path, key]);
      checkJsonValue(inner, [...path, key], report);
    }
    return;
  }
  report('must be a JSON value (string, number, boolean, null, array or object)', path);
}

/** A JSON object of metadata; the depth is checked first, iteratively (deep input would exhaust the stack). */
export const metadataSchema = z.custom<Metadata>().transform((value: unknown, ctx): Metadata => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: 'metadata must be a JSON object' });
    return z.NEVER;
  }
  if (nestingDepthUpTo(value, HARD_LIMITS.metadataDepth) > HARD_LIMITS.metadataDepth) {
    ctx.addIssue({
      code: 'custom',
      message: `metadata may nest at most ${HARD_LIMITS.metadataDepth} levels of objects and arrays`,
    });
    return z.NEVER;
  }
  checkJsonValue(value, [], (message, path) => ctx.addIssue({ code: 'custom', message, path }));
  return value as Metadata;
});

/**
 * One document to ingest, as `documents.ingest` and the streaming endpoint take it. Every field is
 * used or refused: an unknown one is a 400 that names it (an `id` is not taken for `externalId`).
 */
export const ingestItemSchema = z.strictObject(
  {
    content: storableText(
      z.string().min(1, 'content must not be empty').max(HARD_LIMITS.contentChars),
    ),
    metadata: metadataSchema.optional(),
    externalId: storableText(z.string().min(1).max(512)).optional(),
    embedding: vectorSchema.optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `'${key}'`).join(', ')}: a document has content, metadata, externalId and embedding${issue.keys.includes('id') ? " (send the external id as 'externalId')" : ''}`
        : undefined,
  },
);
