/**
 * Reading a JSON array of numbers (a vector in a JSONL line) straight from its bytes into float32,
 * without JSON.parse making a double and a heap number of each of its 1,536 components: the
 * CLI's largest cost when it streams JSONL to a server.
 *
 * Measured on the 2-core bench machine (2026-12-05, numbers of 17-19 characters as
 * `JSON.stringify` writes a float32): this reader 77 ns a number, JSON.parse 150-200 ns, glibc's
 * strtof 90 ns, and a WebAssembly reader (eight digits a step in an i64) 61 ns: too little to carry
 * a compiled artifact and its build.
 */

/** Powers of ten a double holds exactly (1e0 .. 1e22). */
const EXACT_POWERS = Array.from({ length: 23 }, (_, power) => 10 ** power);

/** 2^53: an integer mantissa up to it is exact in a double. */
const EXACT_MANTISSA = 2 ** 53;

/**
 * A relative error far above a double's from gathering up to 40 digits (once past 2^53, each step
 * rounds by at most 2^-53) and one scaling, and far below float32's half step (2^-25).
 */
const SLACK = 2 ** -40;

// Byte values less '0': a digit is 0..9 (unsigned), and the other characters of an array.
const SPACE = 32 - 48;
const TAB = 9 - 48;
const CR = 13 - 48;
const MINUS = 45 - 48;
const DOT = 46 - 48;
const COMMA = 44 - 48;
const CLOSE = 93 - 48;
const LOWER_E = 101 - 48;
const UPPER_E = 69 - 48;
const PLUS = 43 - 48;
const isDigit = (d: number) => d >= 0 && d <= 9;

/**
 * Whether the four bytes of `word` are all ASCII digits: each has the high nibble 3, and still has
 * it with 6 added (0x30..0x39; a byte that carries into the next has the high nibble F).
 */
const fourDigits = (word: number) =>
  ((word & 0xf0f0f0f0) | (((word + 0x06060606) & 0xf0f0f0f0) >>> 4)) === 0x33333333;

/** The number four digit bytes read little-endian as `word` spell, the first byte the most significant. */
function fourDigitsValue(word: number): number {
  const pairs = ((word & 0x0f0f0f0f) * 10 + ((word & 0x0f0f0f0f) >>> 8)) & 0x00ff00ff;
  return (pairs & 0xffff) * 100 + (pairs >>> 16);
}

/**
 * Reads the JSON array of numbers that opens at `bytes[start]` (`[`) into `out` as float32, each
 * component the value `Math.fround(JSON.parse(text))` gives. Returns the count and the index after
 * the closing `]`, or undefined when the array is not a non-empty array of JSON numbers (another
 * value, a grammar error, more components than `out` holds): the caller then reads the line the
 * ordinary way, which names the problem.
 *
 * A number whose digits and exponent a double represents exactly is computed exactly (one
 * correctly rounded division or product, as JSON.parse gives). Otherwise the computed double is
 * within SLACK of the true value, and it is taken only when that whole interval rounds to one
 * float32; a number near a float32 rounding boundary is parsed by Number().
 */
export function readNumberArray(
  bytes: Uint8Array,
  start: number,
  out: Float32Array,
): { count: number; end: number } | undefined {
  const words = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let i = start + 1;
  let count = 0;
  for (;;) {
    let d = (bytes[i] as number) - 48;
    while (d === SPACE || d === TAB || d === CR) d = (bytes[++i] as number) - 48;
    const numberStart = i;
    const negative = d === MINUS;
    if (negative) d = (bytes[++i] as number) - 48;
    let mantissa = 0;
    let digits = 0;
    let scale = 0;
    if (d === 0) d = (bytes[++i] as number) - 48;
    else if (isDigit(d)) {
      const integerStart = i;
      do {
        mantissa = mantissa * 10 + d;
        d = (bytes[++i] as number) - 48;
      } while (isDigit(d));
      digits = i - integerStart;
    } else return undefined;
    if (d === DOT) {
      const fractionStart = ++i;
      // Four digits at a time while there are four: a vector's components are mostly fraction.
      while (i + 4 <= bytes.length) {
        const word = words.getUint32(i, true);
        if (!fourDigits(word)) break;
        mantissa = mantissa * 1e4 + fourDigitsValue(word);
        i += 4;
      }
      d = (bytes[i] as number) - 48;
      while (isDigit(d)) {
        mantissa = mantissa * 10 + d;
        d = (bytes[++i] as number) - 48;
      }
      if (i === fractionStart) return undefined;
      scale = fractionStart - i;
      digits -= scale;
    }
    let exponent = 0;
    if (d === LOWER_E || d === UPPER_E) {
      d = (bytes[++i] as number) - 48;
      const negativeExponent = d === MINUS;
      if (d === PLUS || d === MINUS) d = (bytes[++i] as number) - 48;
      if (!isDigit(d)) return undefined;
      do {
        exponent = exponent * 10 + d;
        d = (bytes[++i] as number) - 48;
      } while (isDigit(d) && exponent < 100_000);
      if (negativeExponent) exponent = -exponent;
    }
    if (count === out.length) return undefined;
    const power = scale + exponent;
    let value: number | undefined;
    if (digits <= 40 && power >= -22 && power <= 22) {
      const scaled =
        power < 0 ? mantissa / (EXACT_POWERS[-power] ?? 1) : mantissa * (EXACT_POWERS[power] ?? 1);
      if (mantissa <= EXACT_MANTISSA) value = scaled;
      else {
        const rounded = Math.fround(scaled);
        if (
          Math.fround(scaled * (1 + SLACK)) === rounded &&
          Math.fround(scaled * (1 - SLACK)) === rounded
        )
          value = scaled;
      }
    }
    if (value === undefined) {
      const from = numberStart + (negative ? 1 : 0);
      value = Number(
        Buffer.from(bytes.buffer, bytes.byteOffset + from, i - from).toString('latin1'),
      );
    }
    out[count++] = negative ? -value : value;
    while (d === SPACE || d === TAB || d === CR) d = (bytes[++i] as number) - 48;
    if (d === COMMA) i++;
    else if (d === CLOSE) return { count, end: i + 1 };
    else return undefined;
  }
}
