/**
 * The values settings may take, apart from Drizzle and the drivers: the CLI defines its options
 * with them before it loads either (a command through a server never does).
 */

/**
 * The text-search configurations a collection may use for keyword search: PostgreSQL's built-in
 * ones, present in PostgreSQL 15 and later and in PGlite (`select cfgname from pg_ts_config`).
 * `simple` lowercases words and neither stems them nor drops stop words; the others do both for
 * their language.
 */
export const textSearchConfigs = [
  'simple',
  'arabic',
  'armenian',
  'basque',
  'catalan',
  'danish',
  'dutch',
  'english',
  'finnish',
  'french',
  'german',
  'greek',
  'hindi',
  'hungarian',
  'indonesian',
  'irish',
  'italian',
  'lithuanian',
  'nepali',
  'norwegian',
  'portuguese',
  'romanian',
  'russian',
  'serbian',
  'spanish',
  'swedish',
  'tamil',
  'turkish',
  'yiddish',
] as const;
export type TextSearchConfig = (typeof textSearchConfigs)[number];
export const DEFAULT_TEXT_SEARCH_CONFIG: TextSearchConfig = 'english';

export const partitionKeys = ['tenant', 'collection'] as const;
export type PartitionKey = (typeof partitionKeys)[number];
export const partitionMethods = ['hash', 'list'] as const;
export type PartitionMethod = (typeof partitionMethods)[number];
