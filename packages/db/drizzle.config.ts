import { defineConfig } from 'drizzle-kit';

// Generation only compares the schema with the committed snapshots; it never connects.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema.ts',
  out: './migrations',
});
