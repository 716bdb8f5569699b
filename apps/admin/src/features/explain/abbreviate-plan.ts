/** Numbers shown from each end of a long vector literal. */
const SHOWN = 3;
/** A bracketed list of more numbers than this is a vector literal worth shortening. */
const LONGEST_KEPT = 8;

const number = String.raw`-?\d+(?:\.\d+)?(?:e[-+]?\d+)?`;
const vectorLiteral = new RegExp(
  String.raw`\[(${number}(?:\s*,\s*${number}){${LONGEST_KEPT},})\]`,
  'gi',
);

/**
 * A plan line with each literal query vector shortened to its first and last numbers and its
 * length: EXPLAIN prints the whole vector (1,536 numbers on one line) where it compares to it.
 */
export function abbreviateVectors(line: string): string {
  return line.replace(vectorLiteral, (_, body: string) => {
    const values = body.split(',').map((value) => value.trim());
    const head = values.slice(0, SHOWN).join(',');
    const tail = values.slice(-SHOWN).join(',');
    return `[${head},…,${tail}] (${values.length.toLocaleString('en-US')} numbers)`;
  });
}
