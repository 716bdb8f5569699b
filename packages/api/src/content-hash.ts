import { createHash } from 'node:crypto';

/** The same digest as the `content_hash` column, `md5(content)`: what `documents.stored` is asked with. */
export function contentHash(content: string): string {
  return createHash('md5').update(content, 'utf8').digest('hex');
}
