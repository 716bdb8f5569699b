import { QuarryError } from '@quarry/db';
import { z } from 'zod';
import { conditionOperators, type ConditionOperator, type MetadataFilter } from './types';

/** Levels of filter nodes on the deepest branch: a bare condition is 1, `{ not: condition }` is 2. */
export const MAX_FILTER_DEPTH = 8;
/** Conditions (leaves, not and/or/not) in the whole filter. */
export const MAX_FILTER_CONDITIONS = 64;
/** Segments in an array key. */
export const MAX_KEY_PATH_LENGTH = 8;
/** UTF-16 code units in one key or path segment, and in an object key inside a `contains` value. */
export const MAX_KEY_LENGTH = 256;
/** UTF-16 code units in a string value, anywhere in the filter. */
export const MAX_STRING_VALUE_LENGTH = 1024;
/** Entries in the `values` of an `in` or `nin` condition. */
export const MAX_IN_VALUES = 100;
/** Levels of arrays and objects in a `contains` value: `["a"]` is 1, `{ "a": ["b"] }` is 2. */
export const MAX_CONTAINS_DEPTH = 8;
/** UTF-8 bytes of the whole filter serialized as JSON. */
export const MAX_FILTER_BYTES = 16_384;

export interface FilterIssue {
  /** Where in the filter, e.g. `['and', 1, 'values', 0]`. */
  path: Array<string | number>;
  /** What is wrong and what is allowed, prefixed with the location. */
  message: string;
}

const MAX_REPORTED_ISSUES = 5;

const operatorProperties: Record<ConditionOperator, readonly string[]> = {
  eq: ['key', 'op', 'value'],
  ne: ['key', 'op', 'value'],
  gt: ['key', 'op', 'value'],
  gte: ['key', 'op', 'value'],
  lt: ['key', 'op', 'value'],
  lte: ['key', 'op', 'value'],
  in: ['key', 'op', 'values'],
  nin: ['key', 'op', 'values'],
  exists: ['key', 'op'],
  contains: ['key', 'op', 'value'],
};

/**
 * Everything wrong with `input` as a metadata filter (empty when it is valid), in one pass that
 * never recurses deeper than the caps allow and visits at most MAX_FILTER_BYTES values, so
 * hostile input (deep, wide or cyclic) costs little and cannot overflow the stack.
 */
export function filterIssues(input: unknown): FilterIssue[] {
  const checker = new FilterChecker();
  checker.node(input, [], 1);
  if (!checker.stopped && checker.conditions > MAX_FILTER_CONDITIONS) {
    checker.report(
      [],
      `the filter has ${checker.conditions} conditions; at most ${MAX_FILTER_CONDITIONS} are allowed (use "in" for one key with many values)`,
    );
  }
  if (checker.issues.length === 0) {
    // Safe to serialize only now: the input is known to be finite, acyclic plain JSON.
    const bytes = new TextEncoder().encode(JSON.stringify(input)).length;
    if (bytes > MAX_FILTER_BYTES) checker.report([], tooLargeMessage(`is ${bytes} bytes`));
  }
  return checker.issues;
}

function tooLargeMessage(size: string): string {
  return `the filter ${size} as JSON; at most ${MAX_FILTER_BYTES} bytes are allowed`;
}

/** Validates a filter from outside the type system; throws QuarryError FILTER_INVALID. */
export function parseMetadataFilter(input: unknown): MetadataFilter {
  assertValidFilter(input);
  return input;
}

/**
 * Filters the edge schema has already found valid, so compileFilter does not walk them again: the
 * parsed objects themselves (the API never changes a parsed input), so any other filter is checked.
 */
const validated = new WeakSet<object>();

export function assertValidFilter(input: unknown): asserts input is MetadataFilter {
  if (typeof input === 'object' && input !== null && validated.has(input)) return;
  const issues = filterIssues(input);
  if (issues.length > 0) {
    throw new QuarryError(
      'FILTER_INVALID',
      `invalid metadata filter: ${issues.map((issue) => issue.message).join('; ')}`,
    );
  }
}

/**
 * The filter at the edge (tRPC inputs). The caps cannot be expressed structurally, and a
 * hand-written check names the exact place and rule broken, where a union of object schemas
 * would only say "Invalid input".
 */
export const metadataFilterSchema = z.custom<MetadataFilter>().superRefine((input, ctx) => {
  const issues = filterIssues(input);
  for (const issue of issues) {
    ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  }
  if (issues.length === 0 && typeof input === 'object' && input !== null) validated.add(input);
});

class FilterChecker {
  readonly issues: FilterIssue[] = [];
  conditions = 0;
  stopped = false;
  private visited = 0;

  report(path: Array<string | number>, message: string): void {
    if (this.stopped) return;
    const where = path.length > 0 ? `${formatPath(path)}: ` : '';
    this.issues.push({ path, message: where + message });
    if (this.issues.length >= MAX_REPORTED_ISSUES) this.stopped = true;
  }

  /** Counts a visited value; every JSON value takes at least a byte, so more values than bytes is too large. */
  private visit(): boolean {
    if (this.stopped) return false;
    this.visited += 1;
    if (this.visited > MAX_FILTER_BYTES) {
      this.issues.push({
        path: [],
        message: tooLargeMessage(`has more than ${MAX_FILTER_BYTES} values`),
      });
      this.stopped = true;
      return false;
    }
    return true;
  }

  node(input: unknown, path: Array<string | number>, depth: number): void {
    if (!this.visit()) return;
    if (!isPlainObject(input)) {
      this.report(
        path,
        `expected a filter object: a condition { key, op, ... } or { and: [...] }, { or: [...] }, { not: {...} }; got ${describe(input)}`,
      );
      return;
    }
    if (depth > MAX_FILTER_DEPTH) {
      this.report(
        path,
        `the filter nests deeper than ${MAX_FILTER_DEPTH} levels of and/or/not; flatten it`,
      );
      return;
    }
    const properties = Object.keys(input);
    const combinators = properties.filter(
      (property) => property === 'and' || property === 'or' || property === 'not',
    );
    if (combinators.length === 0) {
      this.condition(input, path);
      return;
    }
    const combinator = combinators[0];
    if (properties.length !== 1 || combinator === undefined) {
      this.report(
        path,
        `a combinator has exactly one property, "and", "or" or "not"; got ${quoteList(properties)}`,
      );
      return;
    }
    const operand = input[combinator];
    if (combinator === 'not') {
      this.node(operand, [...path, 'not'], depth + 1);
      return;
    }
    if (!Array.isArray(operand)) {
      this.report(
        [...path, combinator],
        `"${combinator}" takes an array of filters; got ${describe(operand)}`,
      );
      return;
    }
    for (let index = 0; index < operand.length && !this.stopped; index++) {
      this.node(operand[index], [...path, combinator, index], depth + 1);
    }
  }

  private condition(input: Record<string, unknown>, path: Array<string | number>): void {
    this.conditions += 1;
    if (!Object.hasOwn(input, 'op')) {
      const properties = Object.keys(input);
      const got = properties.length > 0 ? `properties ${quoteList(properties)}` : 'an empty object';
      this.report(
        path,
        `a condition needs "op" (one of ${conditionOperators.join(', ')}); got ${got}`,
      );
      return;
    }
    const op = input.op;
    if (!isConditionOperator(op)) {
      this.report(
        [...path, 'op'],
        `unknown operator ${describe(op)}; use one of ${conditionOperators.join(', ')}, or the combinators and, or, not`,
      );
      return;
    }
    const allowed = operatorProperties[op];
    for (const property of Object.keys(input)) {
      if (!allowed.includes(property)) {
        this.report(
          [...path, property],
          `unknown property "${property}" in an "${op}" condition; it takes ${quoteList(allowed)}`,
        );
      }
    }
    for (const property of allowed) {
      if (!Object.hasOwn(input, property))
        this.report(path, `an "${op}" condition needs "${property}"`);
    }
    if (Object.hasOwn(input, 'key')) this.key(input.key, [...path, 'key']);

    const valuePath = [...path, 'value'];
    switch (op) {
      case 'eq':
      case 'ne':
        if (Object.hasOwn(input, 'value'))
          this.scalar(
            input.value,
            valuePath,
            `"${op}" compares with a JSON scalar (string, number, boolean or null); use "contains" for arrays and objects`,
          );
        return;
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte':
        if (!Object.hasOwn(input, 'value')) return;
        if (typeof input.value === 'string')
          this.string(input.value, valuePath, 'string value', MAX_STRING_VALUE_LENGTH);
        else if (!isFiniteNumber(input.value)) {
          this.report(
            valuePath,
            `"${op}" orders numbers or strings; got ${describe(input.value)} (use "eq" or "ne" for booleans and null)`,
          );
        }
        return;
      case 'in':
      case 'nin':
        if (Object.hasOwn(input, 'values')) this.scalarList(input.values, [...path, 'values'], op);
        return;
      case 'contains':
        if (Object.hasOwn(input, 'value')) this.json(input.value, valuePath, 0);
        return;
      case 'exists':
        return;
    }
  }

  private key(key: unknown, path: Array<string | number>): void {
    if (typeof key === 'string') {
      this.string(key, path, 'key', MAX_KEY_LENGTH);
      return;
    }
    if (!Array.isArray(key)) {
      this.report(
        path,
        `"key" is a string (one top-level key, taken literally) or an array of strings (a nested path); got ${describe(key)}`,
      );
      return;
    }
    if (key.length === 0 || key.length > MAX_KEY_PATH_LENGTH) {
      this.report(path, `a key path has 1 to ${MAX_KEY_PATH_LENGTH} segments; got ${key.length}`);
      return;
    }
    key.forEach((segment, index) => {
      if (!this.visit()) return;
      if (typeof segment === 'string')
        this.string(segment, [...path, index], 'key path segment', MAX_KEY_LENGTH);
      else
        this.report([...path, index], `a key path segment is a string; got ${describe(segment)}`);
    });
  }

  private scalarList(values: unknown, path: Array<string | number>, op: string): void {
    if (!Array.isArray(values)) {
      this.report(
        path,
        `"${op}" takes "values", an array of JSON scalars; got ${describe(values)}`,
      );
      return;
    }
    if (values.length > MAX_IN_VALUES) {
      this.report(path, `"${op}" takes at most ${MAX_IN_VALUES} values; got ${values.length}`);
      return;
    }
    values.forEach((value: unknown, index) => {
      this.scalar(
        value,
        [...path, index],
        `"${op}" values are JSON scalars (string, number, boolean or null)`,
      );
    });
  }

  private scalar(value: unknown, path: Array<string | number>, expectation: string): void {
    if (!this.visit()) return;
    if (typeof value === 'string')
      this.string(value, path, 'string value', MAX_STRING_VALUE_LENGTH);
    else if (!(value === null || typeof value === 'boolean' || isFiniteNumber(value))) {
      this.report(path, `${expectation}; got ${describe(value)}`);
    }
  }

  /** A `contains` value: any JSON, within the depth, key and string caps. */
  private json(value: unknown, path: Array<string | number>, depth: number): void {
    if (!this.visit()) return;
    if (typeof value === 'string') {
      this.string(value, path, 'string value', MAX_STRING_VALUE_LENGTH);
      return;
    }
    if (value === null || typeof value === 'boolean' || isFiniteNumber(value)) return;
    if (!Array.isArray(value) && !isPlainObject(value)) {
      this.report(path, `expected a JSON value; got ${describe(value)}`);
      return;
    }
    if (depth + 1 > MAX_CONTAINS_DEPTH) {
      this.report(
        path,
        `a "contains" value nests at most ${MAX_CONTAINS_DEPTH} levels of arrays and objects`,
      );
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((element: unknown, index) => this.json(element, [...path, index], depth + 1));
      return;
    }
    for (const [key, inner] of Object.entries(value)) {
      this.string(key, [...path, key], 'object key', MAX_KEY_LENGTH);
      this.json(inner, [...path, key], depth + 1);
    }
  }

  private string(
    value: string,
    path: Array<string | number>,
    what: string,
    maxLength: number,
  ): void {
    if (value.length > maxLength) {
      this.report(path, `a ${what} is at most ${maxLength} characters; got ${value.length}`);
    } else if (value.includes('\u0000')) {
      this.report(
        path,
        `a ${what} cannot contain the NUL character (U+0000), which PostgreSQL cannot store in text or jsonb`,
      );
    } else if (loneSurrogate.test(value)) {
      this.report(path, `a ${what} must be well-formed Unicode; it has an unpaired surrogate`);
    }
  }
}

/** With the `u` flag, a surrogate matches only when it is not half of a pair. */
const loneSurrogate = /\p{Surrogate}/u;

function isConditionOperator(value: unknown): value is ConditionOperator {
  return typeof value === 'string' && (conditionOperators as readonly string[]).includes(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number')
    return Number.isFinite(value) ? `the number ${value}` : `${value} (not a JSON number)`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (isPlainObject(value)) return 'an object';
  return `a ${typeof value === 'object' ? 'non-JSON object' : typeof value}`;
}

function quoteList(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.map((name) => `"${name}"`).join(', ');
}

/** `['and', 1, 'key', 0]` → `and[1].key[0]`. */
function formatPath(path: ReadonlyArray<string | number>): string {
  return path
    .map((segment, index) => {
      if (typeof segment === 'number') return `[${segment}]`;
      if (/^[A-Za-z_$][\w$]*$/.test(segment)) return index === 0 ? segment : `.${segment}`;
      return `[${JSON.stringify(segment)}]`;
    })
    .join('');
}
