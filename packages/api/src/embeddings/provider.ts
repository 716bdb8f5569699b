import { QuarryError } from '@quarry/db';

export interface EmbedOptions {
  /** Aborts the call: pending requests are cancelled and no retry follows. */
  signal?: AbortSignal;
}

export interface EmbeddingProvider {
  /** Stable model id stored on collections, e.g. 'quarry/wink-sg-100d' or 'openai-compatible/text-embedding-3-small'. */
  readonly model: string;
  readonly dimensions: number;
  /** One vector per input text, in order. Throws QuarryError('EMBEDDING_PROVIDER_FAILED', ...) with a useful message. */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<number[][]>;
}

export interface EmbeddingRegistry {
  get(model: string): EmbeddingProvider | undefined;
  list(): EmbeddingProvider[];
}

/** Providers by model id; two providers claiming one id would make stored vectors ambiguous, so that is refused. */
export function createEmbeddingRegistry(providers: EmbeddingProvider[]): EmbeddingRegistry {
  const byModel = new Map<string, EmbeddingProvider>();
  for (const provider of providers) {
    if (byModel.has(provider.model)) {
      throw new QuarryError(
        'INVALID_INPUT',
        `two embedding providers claim model '${provider.model}'; give each provider a distinct model id`,
      );
    }
    byModel.set(provider.model, provider);
  }
  return {
    get: (model) => byModel.get(model),
    list: () => [...byModel.values()],
  };
}
