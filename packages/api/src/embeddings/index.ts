export {
  createEmbeddingRegistry,
  type EmbeddingProvider,
  type EmbeddingRegistry,
  type EmbedOptions,
} from './provider';
export {
  createOfflineEmbeddingProvider,
  defaultOfflineCacheDir,
  OFFLINE_DIMENSIONS,
  OFFLINE_MODEL,
  type OfflineEmbeddingProvider,
} from './offline/provider';
export type { CacheReport } from './offline/word-vectors';
export { createOpenAICompatibleProvider, type OpenAICompatibleOptions } from './openai-compatible';
