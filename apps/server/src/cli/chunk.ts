// The chunker lives in @quarry/corpus so the dashboard's upload splits files exactly as the CLI does.
export {
  assertChunkOptions,
  chunkMarkdown,
  chunkText,
  type ChunkOptions,
  type TextChunk,
} from '@quarry/corpus/text-chunk';
