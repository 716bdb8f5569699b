/**
 * LangChain.js's pgvector store (@langchain/community PGVectorStore on node-postgres), as its docs
 * set it up: `initialize` creates its table (vector(1536), no index), then `addVectors` with the
 * vectors supplied, which it sends as multi-row INSERTs of `chunkSize` (500) rows with text vectors.
 */
import { PGVectorStore } from '@langchain/community/vectorstores/pgvector';
import { Document } from '@langchain/core/documents';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';

/** The bench supplies every vector; nothing is embedded. */
const noEmbeddings: EmbeddingsInterface = {
  embedDocuments: () => Promise.reject(new Error('the bench supplies vectors')),
  embedQuery: () => Promise.reject(new Error('the bench supplies vectors')),
};

export interface LangchainRow {
  content: string;
  metadata: Record<string, unknown>;
  embedding: number[];
}

export interface LangchainStore {
  /** One `addVectors` call; returns its milliseconds. */
  add(rows: readonly LangchainRow[]): Promise<number>;
  close(): Promise<void>;
}

export async function langchainStore(url: string, dimensions: number): Promise<LangchainStore> {
  const store = await PGVectorStore.initialize(noEmbeddings, {
    postgresConnectionOptions: { connectionString: url },
    tableName: 'langchain_pg_embedding',
    dimensions,
    distanceStrategy: 'cosine',
  });
  // The scratch database is dropped with its connections after the run; that is not an error here.
  (store.pool as unknown as NodeJS.EventEmitter).on('error', () => undefined);
  return {
    async add(rows) {
      const vectors = rows.map((row) => row.embedding);
      const documents = rows.map(
        (row) => new Document({ pageContent: row.content, metadata: row.metadata }),
      );
      const started = performance.now();
      await store.addVectors(vectors, documents);
      return performance.now() - started;
    },
    close: () => store.end(),
  };
}
