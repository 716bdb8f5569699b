/**
 * A push-style JSON tokenizer over byte chunks. The word-vector package ships as one ~300 MB JSON
 * document; `JSON.parse` on it needs about 1 GB, while scanning it chunk by chunk needs only the
 * chunk and whatever the handler keeps.
 */
export interface JsonTokenHandler {
  /** One of `{ } [ ] : ,` as its character code. */
  punctuation(code: number): void;
  string(value: string): void;
  number(value: number): void;
  literal(value: boolean | null): void;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

const exactPowersOfTen = Array.from({ length: 23 }, (_, exponent) => 10 ** exponent);

// Byte classes, looked up per byte: a table is several times faster than chains of comparisons.
const WHITESPACE = 1;
const STRUCTURAL = 2;
const NUMERIC = 3;
const STRING_START = 4;
const byteClass = new Uint8Array(256);
for (const byte of [0x20, 0x0a, 0x0d, 0x09]) byteClass[byte] = WHITESPACE;
for (const character of '{}[]:,') byteClass[character.charCodeAt(0)] = STRUCTURAL;
for (const character of '0123456789+-.eE') byteClass[character.charCodeAt(0)] = NUMERIC;
byteClass[QUOTE] = STRING_START;

/**
 * Parses a JSON number from bytes without allocating a string in the common case (up to 15
 * significant digits, no exponent): an integer mantissa divided by an exact power of ten rounds
 * correctly, so the result equals `Number(text)`.
 */
function parseNumber(bytes: Uint8Array, start: number, end: number): number {
  let index = start;
  let negative = false;
  if (bytes[index] === MINUS) {
    negative = true;
    index++;
  }
  let mantissa = 0;
  let digits = 0;
  let fractionDigits = 0;
  let inFraction = false;
  for (; index < end; index++) {
    const byte = bytes[index]!;
    if (byte >= DIGIT_0 && byte <= DIGIT_9) {
      mantissa = mantissa * 10 + (byte - DIGIT_0);
      digits++;
      if (inFraction) fractionDigits++;
    } else if (byte === DOT && !inFraction) {
      inFraction = true;
    } else {
      break;
    }
  }
  if (index !== end || digits === 0 || digits > 15 || fractionDigits >= exactPowersOfTen.length) {
    return slowParseNumber(bytes, start, end);
  }
  const value = fractionDigits === 0 ? mantissa : mantissa / exactPowersOfTen[fractionDigits]!;
  return negative ? -value : value;
}

function slowParseNumber(bytes: Uint8Array, start: number, end: number): number {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new SyntaxError(`invalid JSON number '${text}'`);
  return value;
}

export class JsonScanner {
  private carry: Buffer | undefined;
  private offset = 0;

  constructor(private readonly handler: JsonTokenHandler) {}

  /** Scans every complete token in `chunk`; an incomplete trailing token waits for the next chunk. */
  feed(chunk: Buffer): void {
    const bytes = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    const consumed = this.scan(bytes, false);
    this.carry = consumed < bytes.length ? Buffer.from(bytes.subarray(consumed)) : undefined;
  }

  /** Flushes the last token; throws if the input stopped inside a string or literal. */
  end(): void {
    if (!this.carry) return;
    const consumed = this.scan(this.carry, true);
    if (consumed < this.carry.length) {
      throw new SyntaxError(`unexpected end of JSON input at byte ${this.offset + consumed}`);
    }
    this.carry = undefined;
  }

  /** Returns how many bytes were consumed: everything up to the first incomplete token. */
  private scan(bytes: Buffer, final: boolean): number {
    const handler = this.handler;
    const length = bytes.length;
    let index = 0;
    while (index < length) {
      const byte = bytes[index]!;
      const kind = byteClass[byte];
      if (kind === NUMERIC) {
        let cursor = index + 1;
        while (cursor < length && byteClass[bytes[cursor]!] === NUMERIC) cursor++;
        if (cursor >= length && !final) break;
        handler.number(parseNumber(bytes, index, cursor));
        index = cursor;
      } else if (kind === STRUCTURAL) {
        handler.punctuation(byte);
        index++;
      } else if (kind === WHITESPACE) {
        index++;
      } else if (kind === STRING_START) {
        let cursor = index + 1;
        let escaped = false;
        while (cursor < length) {
          const inner = bytes[cursor]!;
          if (inner === QUOTE) break;
          if (inner === BACKSLASH) {
            escaped = true;
            cursor += 2;
          } else {
            cursor++;
          }
        }
        if (cursor >= length) break;
        handler.string(
          escaped
            ? (JSON.parse(bytes.toString('utf8', index, cursor + 1)) as string)
            : bytes.toString('utf8', index + 1, cursor),
        );
        index = cursor + 1;
      } else {
        const literal = readLiteral(bytes, index);
        if (literal === undefined) {
          if (length - index < 5 && !final) break;
          throw new SyntaxError(
            `unexpected byte 0x${byte.toString(16)} in JSON at byte ${this.offset + index}`,
          );
        }
        handler.literal(literal.value);
        index += literal.length;
      }
    }
    this.offset += index;
    return index;
  }
}

function readLiteral(
  bytes: Buffer,
  index: number,
): { value: boolean | null; length: number } | undefined {
  for (const [text, value] of [
    ['true', true],
    ['false', false],
    ['null', null],
  ] as const) {
    if (bytes.toString('latin1', index, index + text.length) === text)
      return { value, length: text.length };
  }
  return undefined;
}
