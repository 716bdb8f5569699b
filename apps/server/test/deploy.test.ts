import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from './dependency-floors';
import { lintComposeFile, lintDockerfile } from './deploy-lint';
import { scratchDir } from './harness';

/**
 * The Dockerfile and docker-compose.yml, checked without a Docker engine (CI has none, so the
 * stack itself is never started here): the compose file against the Compose specification's
 * schema and dclint, the Dockerfile with dockerfile-utils and Quarry's image rules.
 */

const composePath = join(repoRoot, 'docker-compose.yml');
const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');

interface ComposeService {
  image?: string;
  build?: string | { context?: string };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  ports?: string[];
}
const compose = parse(readFileSync(composePath, 'utf8')) as {
  services: Record<string, ComposeService>;
};
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (found === undefined) throw new Error(`docker-compose.yml has no service '${name}'`);
  return found;
};

const scratch = scratchDir('quarry-deploy');
afterAll(() => scratch.remove());
let documents = 0;
/** Lints a compose document written to a scratch docker-compose.yml. */
function lintComposeText(text: string) {
  const dir = join(scratch.path, String((documents += 1)));
  mkdirSync(dir);
  writeFileSync(join(dir, 'docker-compose.yml'), text);
  return lintComposeFile(join(dir, 'docker-compose.yml'));
}

describe('docker-compose.yml', () => {
  it("conforms to the Compose specification's schema and dclint's rules", () => {
    expect(lintComposeFile(composePath)).toEqual([]);
  });

  it('pins PgBouncer to a tag edoburu/pgbouncer publishes: v<version>-p<n>', () => {
    const [name, tag] = (service('pgbouncer').image ?? '').split(':');
    expect(name).toBe('edoburu/pgbouncer');
    expect(tag).toMatch(/^v\d+\.\d+\.\d+-p\d+$/);
  });

  it('runs Quarry from the Dockerfile behind PgBouncer, once PostgreSQL and PgBouncer are healthy', () => {
    const quarry = service('quarry');
    expect(quarry.build).toMatchObject({ context: '.' });
    expect(quarry.depends_on).toEqual({
      pgbouncer: { condition: 'service_healthy' },
      postgres: { condition: 'service_healthy' },
    });
    const url = new URL(quarry.environment?.DATABASE_URL ?? '');
    expect(url.host).toBe('pgbouncer:5432');
    expect(quarry.environment?.DATABASE_POOLED).toBe('true');
    const postgres = service('postgres').environment ?? {};
    expect([url.username, url.password, url.pathname]).toEqual([
      postgres.POSTGRES_USER,
      postgres.POSTGRES_PASSWORD,
      `/${postgres.POSTGRES_DB}`,
    ]);
    expect(quarry.ports).toEqual(['127.0.0.1:8080:8080']);
  });

  it('publishes every port on loopback only', () => {
    const ports = Object.values(compose.services).flatMap((entry) => entry.ports ?? []);
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });

  it('the check rejects an unknown key, a value of the wrong type and an image without a version', () => {
    const rules = (text: string) => lintComposeText(text).map((problem) => problem.rule);
    expect(rules('name: t\nservices:\n  quarry:\n    build: .\n    healthchek: {}\n')).toEqual([
      'invalid-schema',
    ]);
    expect(rules('name: t\nservices:\n  quarry:\n    build: .\n    init: [yes]\n')).toEqual([
      'invalid-schema',
    ]);
    expect(rules('name: t\nservices:\n  db:\n    image: postgres:latest\n')).toEqual([
      'service-image-require-explicit-tag',
    ]);
    expect(
      rules(`name: t\nservices:\n  db:\n    image: postgres:17\n    ports: ['5432:5432']\n`),
    ).toEqual(['no-unbound-port-interfaces']);
  });
});

describe('Dockerfile', () => {
  it('passes dockerfile-utils and the image rules', () => {
    expect(lintDockerfile(dockerfile)).toEqual([]);
  });

  it('builds in one stage and runs in another, both on node:20-slim, as the node user', () => {
    expect(dockerfile.match(/^FROM .*/gm)).toEqual([
      'FROM node:20-slim AS build',
      'FROM node:20-slim AS runtime',
    ]);
    const runtime = dockerfile.slice(dockerfile.indexOf('FROM node:20-slim AS runtime'));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^COPY --from=build \/app\/apps\/admin\/dist /m);
  });

  it('builds the dashboard from the lockfile and serves on 0.0.0.0:8080, probed at /readyz', () => {
    expect(dockerfile).toMatch(/install --frozen-lockfile/);
    expect(dockerfile).toMatch(/turbo run build --filter=@quarry\/admin/);
    expect(dockerfile).toMatch(/^\s+HOST=0\.0\.0\.0 \\$/m);
    expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
    expect(dockerfile).toMatch(/^\s+CMD \[.*\/readyz/m);
    expect(dockerfile).toMatch(/^CMD \["node", "--import", "tsx", "src\/main\.ts"\]$/m);
  });

  it('the linter rejects a Dockerfile that runs as root', () => {
    const asRoot = dockerfile.replace(/^USER node$/m, 'USER root');
    expect(lintDockerfile(asRoot).map((problem) => problem.rule)).toEqual(['non-root-user']);
    const noUser = dockerfile.replace(/^USER node\n/m, '');
    expect(lintDockerfile(noUser).map((problem) => problem.rule)).toEqual(['non-root-user']);
  });

  it('the linter rejects an unpinned base image, a remote ADD, no HEALTHCHECK and bad syntax', () => {
    const rules = (text: string) => lintDockerfile(text).map((problem) => problem.rule);
    expect(rules(dockerfile.replace('FROM node:20-slim AS build', 'FROM node AS build'))).toEqual([
      'pinned-base-image',
    ]);
    expect(
      rules(dockerfile.replace('AS runtime', 'AS runtime\nADD https://example.com/x.tgz /x')),
    ).toEqual(['no-remote-add']);
    const healthcheck = /^HEALTHCHECK .*\\\n.*\n/m;
    expect(dockerfile).toMatch(healthcheck);
    expect(rules(dockerfile.replace(healthcheck, ''))).toEqual(['healthcheck']);
    expect(rules(dockerfile.replace(healthcheck, 'HEALTHCHECK NONE\n'))).toEqual(['healthcheck']);
    expect(rules(dockerfile.replace('EXPOSE 8080', 'EXPOSE http'))).toEqual(['dockerfile-utils']);
    expect(rules(dockerfile.replace('--interval=10s', '--interval=often'))).toEqual([
      'dockerfile-utils',
    ]);
  });

  it('.dockerignore keeps installed and built output, local databases and .git out of the context', () => {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of [
      '**/node_modules',
      '**/dist',
      '**/.quarry-data',
      '**/test-output',
      '.git',
    ]) {
      expect(ignored).toContain(entry);
    }
  });
});
