import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { splitSentences } from '../src/index';
import {
  buildKnownItems,
  knownItemDocuments,
  knownItemsPath,
  KNOWN_ITEM_QUERIES,
} from '../src/known-items';

describe('known-item set', () => {
  const built = buildKnownItems();

  it('is the committed file, rebuilt (QUARRY_UPDATE_KNOWN_ITEMS=1 rewrites it)', () => {
    const text = `${JSON.stringify(built, null, 2)}\n`;
    if (process.env.QUARRY_UPDATE_KNOWN_ITEMS === '1') writeFileSync(knownItemsPath, text);
    expect(readFileSync(knownItemsPath, 'utf8')).toBe(text);
  });

  it('has one query per distinct passage, each a sentence of it', () => {
    expect(built.items).toHaveLength(KNOWN_ITEM_QUERIES);
    expect(new Set(built.items.map((item) => item.relevant)).size).toBe(KNOWN_ITEM_QUERIES);
    expect(new Set(built.items.map((item) => item.query)).size).toBe(KNOWN_ITEM_QUERIES);
  });

  it('removes each query sentence from the indexed copy of its passage, and only there', () => {
    const documents = knownItemDocuments(built);
    expect(documents).toHaveLength(built.passages);
    const byId = new Map(documents.map((document) => [document.externalId, document.content]));
    for (const item of built.items) {
      const content = byId.get(item.relevant)!;
      expect(content).not.toContain(item.query);
      expect(splitSentences(content).length).toBeGreaterThanOrEqual(2);
    }
    const queries = new Set(built.items.map((item) => item.query));
    const leaks = documents.filter((document) =>
      splitSentences(document.content).some((sentence) => queries.has(sentence)),
    );
    expect(leaks.map((document) => document.externalId)).toEqual([]);
  });
});
