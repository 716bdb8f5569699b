import type { DemoDocument } from './demo';

/** The demo corpus: State of the Union paragraphs from @quarry/corpus. */
export async function loadDemoDocuments(): Promise<DemoDocument[]> {
  const { loadSotuParagraphs } = await import('@quarry/corpus');
  return (await loadSotuParagraphs()).map((paragraph) => paragraph);
}
