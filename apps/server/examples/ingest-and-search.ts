/**
 * A service that uses Quarry through the typed client: it makes sure a collection exists, ingests
 * a few documents (the server embeds them with the collection's model) and searches them.
 *
 *   QUARRY_URL=http://127.0.0.1:8080 QUARRY_API_KEY=... node --import tsx examples/ingest-and-search.ts "how do ships float"
 */
import { createQuarryClient, quarryCodeOf } from '@quarry/client';
import { z } from 'zod';

const env = z
  .object({
    QUARRY_URL: z.url().default('http://127.0.0.1:8080'),
    QUARRY_API_KEY: z.string().min(1).optional(),
  })
  .parse(process.env);
const question = process.argv.slice(2).join(' ') || 'why does ice float on water';

const quarry = createQuarryClient({
  url: env.QUARRY_URL,
  apiKey: env.QUARRY_API_KEY,
  readYourWrites: true,
});

try {
  await quarry.collections.create.mutate({
    name: 'example-notes',
    dimensions: 100,
    embeddingModel: 'quarry/wink-sg-100d',
  });
  console.log("created collection 'example-notes'");
} catch (error) {
  if (quarryCodeOf(error) !== 'COLLECTION_EXISTS') throw error;
}

const notes = [
  {
    id: 'ice',
    content:
      'Ice is less dense than liquid water, so it floats on lakes and protects the life below.',
    topic: 'physics',
  },
  {
    id: 'boats',
    content:
      'A steel ship floats because its hull displaces a weight of water equal to its own weight.',
    topic: 'physics',
  },
  {
    id: 'bread',
    content:
      'Sourdough bread rises because wild yeast and bacteria produce gas while the dough ferments.',
    topic: 'cooking',
  },
  {
    id: 'tea',
    content: 'Green tea should be brewed below boiling, around eighty degrees, or it turns bitter.',
    topic: 'cooking',
  },
];
const ingested = await quarry.documents.ingest.mutate({
  collection: 'example-notes',
  documents: notes.map((note) => ({
    externalId: note.id,
    content: note.content,
    metadata: { topic: note.topic },
  })),
});
console.log(
  `ingested: ${ingested.inserted} new, ${ingested.updated} updated, ${ingested.unchanged} unchanged`,
);

const { results, stats } = await quarry.search.query.query({
  collection: 'example-notes',
  mode: 'hybrid',
  text: question,
  k: 3,
  filter: { key: 'topic', op: 'eq', value: 'physics' },
});
console.log(
  `"${question}" (${stats.mode}, ${stats.strategy ?? 'keyword only'}, ${stats.tookMs} ms):`,
);
for (const result of results) {
  console.log(
    `  ${result.externalId}  similarity ${result.similarity?.toFixed(3) ?? '-'}  ${result.content}`,
  );
}
