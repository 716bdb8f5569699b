import { loadSotuParagraphs } from '@quarry/corpus';
import type { DemoDocument } from './demo';

/** The demo corpus: the State of the Union addresses as paragraph-sized passages with president, year and party. */
export function loadDemoDocuments(): Promise<DemoDocument[]> {
  return Promise.resolve(
    loadSotuParagraphs().map(({ externalId, content, metadata }) => ({
      externalId,
      content,
      metadata: { ...metadata, title: metadata.title ?? null },
    })),
  );
}
