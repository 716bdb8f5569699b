import { describe, expect, it } from 'vitest';
import {
  belowFloor,
  catalogMinimum,
  compareVersions,
  dependencyFloors,
  lockfileVersions,
  versionsInUse,
} from './dependency-floors';

describe('dependency floors that close known advisories', () => {
  const seen = versionsInUse();

  it.each(dependencyFloors.map((floor) => [floor.name, floor]))(
    '%s: the lockfile, the catalog and every installed copy are at or above the floor',
    (name, floor) => {
      const ofThis = seen.filter((version) => version.name === name);
      expect(ofThis.map((version) => version.where)).toEqual(
        expect.arrayContaining(['pnpm-lock.yaml', 'catalog']),
      );
      expect(ofThis.length).toBeGreaterThan(2);
      expect(
        belowFloor(ofThis),
        `${name} must be >= ${floor.floor} (${floor.advisory}: ${floor.why})`,
      ).toEqual([]);
    },
  );

  it('a version below its floor is reported, wherever it is found', () => {
    const lockfile =
      "packages:\n\n  '@trpc/server@11.7.2':\n    resolution: {}\n\n  drizzle-orm@0.45.1(postgres@3.4.9):\n    resolution: {}\n";
    expect(lockfileVersions(lockfile, '@trpc/server')).toEqual(['11.7.2']);
    expect(lockfileVersions(lockfile, 'drizzle-orm')).toEqual(['0.45.1']);
    expect(
      catalogMinimum(
        'catalog:\n  "@trpc/server": ^11.7.0\n  drizzle-orm: 0.45.4\n',
        '@trpc/server',
      ),
    ).toBe('11.7.0');
    expect(catalogMinimum("catalog:\n  '@trpc/server': '>=11.6.0'\n", '@trpc/server')).toBe(
      '11.6.0',
    );
    expect(catalogMinimum('catalog:\n  drizzle-orm: ~0.45.1\n', 'drizzle-orm')).toBe('0.45.1');
    const below = belowFloor([
      { name: '@trpc/server', where: 'pnpm-lock.yaml', version: '11.7.2' },
      { name: 'drizzle-orm', where: 'catalog', version: '0.45.1' },
      { name: 'drizzle-orm', where: '@quarry/db', version: 'not installed' },
      { name: 'drizzle-orm', where: '@quarry/api', version: '0.45.2' },
      { name: '@trpc/server', where: '@quarry/api', version: '11.22.1' },
    ]);
    expect(below.map((version) => `${version.where} ${version.version}`)).toEqual([
      'pnpm-lock.yaml 11.7.2',
      'catalog 0.45.1',
      '@quarry/db not installed',
    ]);
  });

  it('versions compare numerically, a prerelease before its release', () => {
    expect(compareVersions('11.10.0', '11.8.0')).toBe(1);
    expect(compareVersions('0.45.2', '0.45.10')).toBe(-1);
    expect(compareVersions('1.0.0-beta.20', '0.45.2')).toBe(1);
    expect(compareVersions('11.8.0-rc.1', '11.8.0')).toBe(-1);
    expect(compareVersions('0.45.2', '0.45.2')).toBe(0);
  });
});
