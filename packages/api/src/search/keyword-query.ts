/**
 * The parts of a keyword query, read the way `websearch_to_tsquery` reads it, for the OR fallback:
 * each word and each `"quoted phrase"` is a term (a phrase matches only as a phrase), and
 * `-exclusions` (of a word or a phrase) stay required. Only splits the text: every part reaches
 * PostgreSQL as a bound parameter and is parsed there by websearch_to_tsquery / phraseto_tsquery,
 * which accept any text.
 */
export interface KeywordQueryParts {
  /** Words and phrases, in order, once each, without `or`. */
  terms: string[];
  /** The exclusions in websearch syntax (`-word -"a phrase"`), or ''. */
  excluded: string;
}

// A quoted phrase (closed, or running to the end of the text), or a run of non-space characters.
const TOKEN = /(-?)"([^"]*)"?|(\S+)/g;

export function splitKeywordQuery(text: string): KeywordQueryParts {
  const terms = new Set<string>();
  const excluded: string[] = [];
  for (const [, minus, phrase, word] of text.matchAll(TOKEN)) {
    if (phrase !== undefined) {
      if (phrase.trim() === '') continue;
      if (minus) excluded.push(`-"${phrase}"`);
      else terms.add(phrase.trim());
    } else if (word !== undefined) {
      // 'or' is websearch's operator; in the fallback every term is optional anyway.
      if (word.toLowerCase() === 'or') continue;
      if (word.startsWith('-') && word.length > 1) excluded.push(word);
      else terms.add(word);
    }
  }
  return { terms: [...terms], excluded: excluded.join(' ') };
}
