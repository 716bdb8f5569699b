/**
 * Keyword highlights for result snippets. PostgreSQL matched the query with the english text
 * search configuration (stemming, stop words); this approximates it in the browser with a crude
 * suffix-stripping stem, which is enough to show a reader why a paragraph matched.
 */
const stopWords = new Set(
  'a an and are as at be but by for from has have in is it its of on or that the this to was were will with not no we our you your they their he she his her i'.split(
    ' ',
  ),
);

const wordPattern = /[\p{L}\p{N}]+(?:'[\p{L}]+)?/gu;

export function stem(word: string): string {
  let lower = word.toLowerCase().replace(/'s$/, '');
  for (const suffix of ['ies', 'ing', 'ed', 'es', 's', 'ly']) {
    if (lower.endsWith(suffix) && lower.length - suffix.length >= 3) {
      lower = lower.slice(0, -suffix.length) + (suffix === 'ies' ? 'y' : '');
      break;
    }
  }
  return lower;
}

/** The stems a query would match on: its words minus stop words. */
export function queryStems(query: string): Set<string> {
  const stems = new Set<string>();
  for (const [word] of query.matchAll(wordPattern)) {
    if (!stopWords.has(word.toLowerCase())) stems.add(stem(word));
  }
  return stems;
}

export interface Segment {
  text: string;
  match: boolean;
}

/** `text` cut into plain and matching segments; joined, they are `text` again. */
export function highlight(text: string, stems: ReadonlySet<string>): Segment[] {
  const segments: Segment[] = [];
  let last = 0;
  if (stems.size > 0) {
    for (const found of text.matchAll(wordPattern)) {
      const start = found.index;
      if (!stems.has(stem(found[0]))) continue;
      if (start > last) segments.push({ text: text.slice(last, start), match: false });
      segments.push({ text: found[0], match: true });
      last = start + found[0].length;
    }
  }
  if (last < text.length) segments.push({ text: text.slice(last), match: false });
  return segments;
}

export interface Snippet {
  segments: Segment[];
  /** Text was left out before / after the window. */
  clippedStart: boolean;
  clippedEnd: boolean;
}

/**
 * A window of about `maxChars` of `text`, starting a little before the first match so the
 * match is in view, cut at word boundaries.
 */
export function snippet(text: string, stems: ReadonlySet<string>, maxChars = 360): Snippet {
  if (text.length <= maxChars)
    return { segments: highlight(text, stems), clippedStart: false, clippedEnd: false };
  const firstMatch = highlight(text, stems).reduce<{ offset: number; at: number | null }>(
    (state, segment) => ({
      offset: state.offset + segment.text.length,
      at: state.at ?? (segment.match ? state.offset : null),
    }),
    { offset: 0, at: null },
  ).at;
  let start =
    firstMatch === null ? 0 : Math.max(0, Math.min(firstMatch - 80, text.length - maxChars));
  if (start > 0) {
    const space = text.indexOf(' ', start);
    start = space === -1 || space > start + 40 ? start : space + 1;
  }
  let end = Math.min(text.length, start + maxChars);
  if (end < text.length) {
    const space = text.lastIndexOf(' ', end);
    end = space > start + maxChars / 2 ? space : end;
  }
  return {
    segments: highlight(text.slice(start, end), stems),
    clippedStart: start > 0,
    clippedEnd: end < text.length,
  };
}
