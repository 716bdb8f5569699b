import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serverRoot } from './harness';

/**
 * Lowest versions Quarry accepts of dependencies with known advisories below them. The normal
 * suite (dependencies.test.ts) fails when the lockfile, the catalog or an installed copy is below
 * a floor; the reliability run records the same check and `pnpm audit --prod`.
 */
export const dependencyFloors = [
  {
    name: '@trpc/server',
    floor: '11.8.0',
    advisory: 'GHSA-43p4-m455-4f4j (CVE-2025-68130)',
    why: 'prototype pollution through crafted FormData field names (formDataToObject)',
  },
  {
    name: 'drizzle-orm',
    floor: '0.45.2',
    advisory: 'GHSA-gpj5-g38j-94v9 (CVE-2026-39356)',
    why: 'SQL injection through improperly escaped identifiers (sql.identifier, .as())',
  },
] as const;

export const repoRoot = join(serverRoot, '..', '..');

/** Compares dotted versions numerically; a prerelease (`1.0.0-beta.2`) sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const parse = (version: string) => {
    const [core = '', prerelease] = version.split('-', 2);
    return { parts: core.split('.').map(Number), prerelease };
  };
  const left = parse(a);
  const right = parse(b);
  for (let i = 0; i < 3; i += 1) {
    const difference = (left.parts[i] ?? 0) - (right.parts[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  if (left.prerelease === right.prerelease) return 0;
  if (left.prerelease === undefined) return 1;
  if (right.prerelease === undefined) return -1;
  return left.prerelease < right.prerelease ? -1 : 1;
}

/** One place a dependency's version comes from, and that version. */
export interface VersionSeen {
  name: string;
  /** "pnpm-lock.yaml", "catalog", or the workspace package whose node_modules holds the copy. */
  where: string;
  version: string;
}

/** Every version of `name` that pnpm-lock.yaml resolves (its `packages:` keys). */
export function lockfileVersions(lockfile: string, name: string): string[] {
  const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const pattern = new RegExp(`^ {2}'?${escaped}@(\\d+\\.\\d+\\.\\d+[^'(:\\s]*)`, 'gm');
  return [...new Set([...lockfile.matchAll(pattern)].map((match) => match[1] ?? ''))];
}

/** The lowest version a catalog entry admits ("11.22.1", "^11.22.1", ">=11.8.0" → its version). */
export function catalogMinimum(workspaceYaml: string, name: string): string | undefined {
  const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  // Keys and values may be bare, 'single-' or "double-quoted" YAML.
  const match = new RegExp(`^ {2}["']?${escaped}["']?:\\s*["']?([^"'\\s]+)`, 'm').exec(
    workspaceYaml,
  );
  return match?.[1]?.replace(/^[\^~>=v]+/, '');
}

function workspacePackageDirs(): string[] {
  return ['apps', 'packages', 'tooling'].flatMap((group) => {
    const dir = join(repoRoot, group);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .map((name) => join(dir, name))
      .filter((path) => existsSync(join(path, 'package.json')));
  });
}

/** Every version of each floored dependency: lockfile, catalog, and the copy each workspace package that declares it has installed. */
export function versionsInUse(): VersionSeen[] {
  const lockfile = readFileSync(join(repoRoot, 'pnpm-lock.yaml'), 'utf8');
  const workspaceYaml = readFileSync(join(repoRoot, 'pnpm-workspace.yaml'), 'utf8');
  const seen: VersionSeen[] = [];
  for (const { name } of dependencyFloors) {
    for (const version of lockfileVersions(lockfile, name))
      seen.push({ name, where: 'pnpm-lock.yaml', version });
    const catalog = catalogMinimum(workspaceYaml, name);
    if (catalog !== undefined) seen.push({ name, where: 'catalog', version: catalog });
    for (const dir of workspacePackageDirs()) {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<
        string,
        Record<string, string> | undefined
      > & { name: string };
      const declared = ['dependencies', 'devDependencies', 'peerDependencies'].some(
        (field) => manifest[field]?.[name] !== undefined,
      );
      if (!declared) continue;
      const installed = join(dir, 'node_modules', name, 'package.json');
      const version = existsSync(installed)
        ? (JSON.parse(readFileSync(installed, 'utf8')) as { version: string }).version
        : 'not installed';
      seen.push({ name, where: manifest.name, version });
    }
  }
  return seen;
}

/** The versions below their floor (or not installed where declared). */
export function belowFloor(seen: readonly VersionSeen[]): VersionSeen[] {
  return seen.filter(({ name, version }) => {
    const floor = dependencyFloors.find((candidate) => candidate.name === name)?.floor;
    return floor === undefined || !/^\d/.test(version) || compareVersions(version, floor) < 0;
  });
}
