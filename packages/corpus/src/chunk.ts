/**
 * Splitting addresses into passages. The dataset keeps each address as one line (its paragraph
 * breaks are gone), so passages are rebuilt from sentences: consecutive sentences up to a
 * paragraph-like length. The rules are fixed, so a passage's number within its address (and so its
 * id) does not depend on any option.
 */

/** Passages close once they reach about this many characters. */
export const TARGET_PASSAGE_CHARS = 800;
/** A sentence longer than this is cut at a clause or word boundary. */
export const MAX_SENTENCE_CHARS = 1200;
/** A passage shorter than this takes the next sentence even past the target; a short last one joins its predecessor. */
export const MIN_PASSAGE_CHARS = 250;

// Stage directions and page markers of the transcripts; they are not part of the speech.
const ANNOTATIONS = /\[(?:laughter|applause|missing text|p\.\s*\d+)\]/gi;

// Titles and abbreviations after which a period does not end a sentence.
const ABBREVIATIONS = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'st',
  'jr',
  'sr',
  'gen',
  'gov',
  'sen',
  'rep',
  'hon',
  'rev',
  'col',
  'capt',
  'lt',
  'adm',
  'maj',
  'sgt',
  'messrs',
  'no',
  'nos',
  'vs',
  'etc',
  'viz',
  'co',
  'inc',
  'ft',
  'mt',
  'jan',
  'feb',
  'mar',
  'apr',
  'aug',
  'sept',
  'sep',
  'oct',
  'nov',
  'dec',
  'art',
  'sec',
  'vol',
  'pp',
]);

// A candidate end: . ! or ? (and closing quotes or brackets), then space and the start of a sentence.
const SENTENCE_END = /[.!?]["'”’)\]]*\s+(?=["“‘(\[]?[A-Z0-9])/g;

export function cleanTranscript(text: string): string {
  return text.replace(ANNOTATIONS, ' ').replace(/\s+/g, ' ').trim();
}

function endsWithAbbreviation(textBeforePeriod: string): boolean {
  const lastWord = /([A-Za-z]+)\.$/.exec(textBeforePeriod)?.[1];
  if (lastWord === undefined) return false;
  // Single capitals are initials ("Ulysses S. Grant", "U. S.").
  return (
    (lastWord.length === 1 && lastWord === lastWord.toUpperCase()) ||
    ABBREVIATIONS.has(lastWord.toLowerCase())
  );
}

export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  let start = 0;
  for (const match of text.matchAll(SENTENCE_END)) {
    const end = match.index + match[0].trimEnd().length;
    if (endsWithAbbreviation(text.slice(Math.max(start, match.index - 12), match.index + 1)))
      continue;
    sentences.push(text.slice(start, end));
    start = match.index + match[0].length;
  }
  if (start < text.length) sentences.push(text.slice(start));
  return sentences.map((sentence) => sentence.trim()).filter((sentence) => sentence !== '');
}

/** Cuts an over-long sentence at the last `;`, `:` or `,` before the limit (else the last space). */
function splitLongSentence(sentence: string): string[] {
  const pieces: string[] = [];
  let rest = sentence;
  while (rest.length > MAX_SENTENCE_CHARS) {
    const window = rest.slice(0, MAX_SENTENCE_CHARS);
    const clause = Math.max(
      window.lastIndexOf('; '),
      window.lastIndexOf(': '),
      window.lastIndexOf(', '),
    );
    const space = window.lastIndexOf(' ');
    const cut =
      clause > MAX_SENTENCE_CHARS / 2 ? clause + 1 : space > 0 ? space : MAX_SENTENCE_CHARS;
    pieces.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut).trim();
  }
  if (rest !== '') pieces.push(rest);
  return pieces;
}

/** Groups an address's sentences into passages of about TARGET_PASSAGE_CHARS characters. */
export function chunkAddress(text: string): string[] {
  const passages: string[] = [];
  let current = '';
  for (const sentence of splitSentences(cleanTranscript(text)).flatMap(splitLongSentence)) {
    if (
      current.length >= MIN_PASSAGE_CHARS &&
      current.length + 1 + sentence.length > TARGET_PASSAGE_CHARS
    ) {
      passages.push(current);
      current = '';
    }
    current = current === '' ? sentence : `${current} ${sentence}`;
  }
  if (current !== '') {
    const previous = passages.at(-1);
    if (previous !== undefined && current.length < MIN_PASSAGE_CHARS)
      passages[passages.length - 1] = `${previous} ${current}`;
    else passages.push(current);
  }
  return passages;
}
