/**
 * The metadata filter language: a JSON predicate over documents' metadata, validated at the edge
 * (`metadataFilterSchema`), compiled to parameterized SQL (`compileFilter`) and evaluated in memory
 * with the same semantics (`matchesFilter`). See README.md in this folder.
 */
export {
  conditionOperators,
  equalityOperators,
  keyPath,
  listOperators,
  orderingOperators,
  type ConditionOperator,
  type ContainsCondition,
  type EqualityCondition,
  type EqualityOperator,
  type ExistsCondition,
  type JsonScalar,
  type JsonValue,
  type ListCondition,
  type ListOperator,
  type Metadata,
  type MetadataCondition,
  type MetadataFilter,
  type MetadataKey,
  type OrderingCondition,
  type OrderingOperator,
} from './types';
export {
  MAX_CONTAINS_DEPTH,
  MAX_FILTER_BYTES,
  MAX_FILTER_CONDITIONS,
  MAX_FILTER_DEPTH,
  MAX_IN_VALUES,
  MAX_KEY_LENGTH,
  MAX_KEY_PATH_LENGTH,
  MAX_STRING_VALUE_LENGTH,
  filterIssues,
  metadataFilterSchema,
  parseMetadataFilter,
  type FilterIssue,
} from './validate';
export { compileFilter } from './compile';
export { matchesFilter } from './evaluate';
export {
  DEFAULT_METADATA_KEYS_SAMPLE_SIZE,
  MAX_METADATA_KEYS_SAMPLE_SIZE,
  metadataKeys,
  type MetadataKeySummary,
} from './keys';
