export {
  createDb,
  DEFAULT_INDEX_BUILD_MEMORY,
  queryRows,
  readTransaction,
  type Database,
  type DbConfig,
  type QuarryDatabase,
  type SqlExecutor,
} from './client';
export { endReadAfterIssued, TransactionEndedError } from './pool';
export type { CopyTarget, CopyType, CopyValue, WriteSession } from './write-session';
export { migrate, migrationState, migrationsFolder } from './migrate';
export {
  QuarryError,
  databaseErrorCodeIn,
  innermostErrorMessage,
  isQuarryError,
  isTransientConflict,
  quarryErrorCodes,
  quarryErrorIn,
  withTimeout,
  type QuarryErrorCode,
} from './errors';
export * from './vector';
export * from './vector-index';
export { withCollectionChangeLock } from './collection-lock';
export * from './schema';
// Routers import SQL operators from here, so the whole query vocabulary comes from one package.
export * from 'drizzle-orm/sql';
