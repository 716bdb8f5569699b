import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The source files under src/, and every relative import each makes. */
const src = fileURLToPath(new URL('..', import.meta.url));
const features = join(src, 'features');

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(folder, entry.name))
      : /\.tsx?$/.test(entry.name)
        ? [join(folder, entry.name)]
        : [],
  );
}

function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/\bfrom\s+'(\.{1,2}\/[^']*)'/g)].map((match) => match[1]!);
}

/** The feature a path lies in, and the rest of its path inside it ('' for the folder itself). */
function featureOf(path: string): { feature: string; inside: string } | undefined {
  const within = relative(features, path);
  if (within.startsWith('..') || within === '') return undefined;
  const [feature = '', ...rest] = within.split(sep);
  return { feature, inside: rest.join('/') };
}

describe('feature boundaries', () => {
  it('a feature uses another only through its public entry (its index)', () => {
    const reaches: string[] = [];
    for (const file of sourceFiles(src)) {
      const from = featureOf(file);
      for (const specifier of relativeImports(file)) {
        const target = featureOf(join(dirname(file), specifier));
        if (!target || target.feature === from?.feature) continue;
        if (target.inside === '' || target.inside === 'index') continue;
        reaches.push(`${relative(src, file)} imports '${specifier}'`);
      }
    }
    expect(reaches).toEqual([]);
  });

  it('finds the imports it checks', () => {
    // The check above is only as good as its reading of imports: explain uses search's entry.
    const explain = relativeImports(join(features, 'explain', 'index.tsx'));
    expect(explain).toContain('../search');
  });
});
