import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { belowFloor, dependencyFloors, repoRoot, versionsInUse } from '../test/dependency-floors';
import { recordTrial } from './report';

/**
 * Dependencies: the advisory floors (also enforced by the normal suite), and `pnpm audit --prod`
 * against the registry's advisory database. An audit that cannot reach the advisory endpoint is
 * recorded as not checked, never as a pass; QUARRY_RELIABILITY_REQUIRE_AUDIT=1 makes it fail.
 */

/**
 * Advisories `pnpm audit --prod` reports that were looked at and do not apply, by GHSA id or URL,
 * with the reason. Empty: any finding fails the run until it is fixed or explained here.
 */
const explainedAdvisories: Record<string, string> = {};

interface AuditAdvisory {
  module_name: string;
  severity: string;
  title: string;
  url: string;
  github_advisory_id?: string;
  vulnerable_versions: string;
  patched_versions: string;
}

function runAudit(): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['-y', 'pnpm@12.4.2', 'audit', '--prod', '--json'],
      { cwd: repoRoot, timeout: 180_000, maxBuffer: 64 * 2 ** 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

/** The audit's JSON report, or undefined when pnpm printed an error instead (endpoint unreachable). */
function parseReport(output: string): { advisories: Record<string, AuditAdvisory> } | undefined {
  const start = output.indexOf('{');
  const end = output.lastIndexOf('}');
  if (start < 0 || end < start) return undefined;
  try {
    const report = JSON.parse(output.slice(start, end + 1)) as {
      advisories?: Record<string, AuditAdvisory>;
    };
    return report.advisories ? { advisories: report.advisories } : undefined;
  } catch {
    return undefined;
  }
}

describe('dependencies', () => {
  it('every floored dependency is at or above the version that closes its advisory', () => {
    const seen = versionsInUse();
    const below = belowFloor(seen);
    recordTrial({
      suite: 'Dependencies',
      scenario: `Advisory floors (${dependencyFloors.map((floor) => `${floor.name} ≥ ${floor.floor}`).join(', ')}): lockfile, catalog, every installed copy`,
      attempts: seen.length,
      survived: seen.length - below.length,
      metrics: Object.fromEntries(
        dependencyFloors.map(({ name }) => [
          name,
          [
            ...new Set(
              seen.filter((version) => version.name === name).map((version) => version.version),
            ),
          ].join(', '),
        ]),
      ),
      notes: [
        ...dependencyFloors.map(
          (floor) => `${floor.name} ${floor.floor} closes ${floor.advisory}: ${floor.why}`,
        ),
        ...below.map(
          (version) => `below the floor: ${version.name} ${version.version} in ${version.where}`,
        ),
      ],
    });
    expect(below).toEqual([]);
  });

  it('pnpm audit --prod reports no advisory that is not fixed or explained', async (context) => {
    const started = performance.now();
    const audit = await runAudit();
    const code = audit.code;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const report = parseReport(audit.output);
    if (!report) {
      // The report is committed: it says the registry answered, never which host it was.
      const output = audit.output.replace(/https?:\/\/[^\s)"']+/g, '<registry URL>');
      const reason =
        /ERR_PNPM_\w+[^\n]*|E(?:NOTFOUND|CONNREFUSED|CONNRESET|TIMEDOUT|AI_AGAIN)[^\n]*/.exec(
          output,
        )?.[0] ?? output.trim().split('\n').slice(0, 2).join(' ');
      const detail = output.replace(/\s+/g, ' ').trim().slice(0, 300);
      recordTrial({
        suite: 'Dependencies',
        scenario: 'pnpm audit --prod against the registry’s advisory database',
        attempts: 1,
        survived: 0,
        metrics: {
          outcome: 'NOT CHECKED: the advisory endpoint could not be used',
          'exit code': code,
          seconds,
        },
        notes: [
          `pnpm audit did not get an answer from the advisory endpoint (${reason}); this is recorded as not checked, not as a pass. The advisory floors above are checked offline. pnpm said: ${detail}`,
        ],
      });
      if (process.env.QUARRY_RELIABILITY_REQUIRE_AUDIT === '1')
        throw new Error(`pnpm audit could not run: ${detail}`);
      context.skip(`pnpm audit could not reach the advisory endpoint: ${reason}`);
      return;
    }
    const findings = Object.values(report.advisories);
    const unexplained = findings.filter(
      (advisory) =>
        !explainedAdvisories[advisory.github_advisory_id ?? ''] &&
        !explainedAdvisories[advisory.url],
    );
    recordTrial({
      suite: 'Dependencies',
      scenario: 'pnpm audit --prod against the registry’s advisory database',
      attempts: 1,
      survived: unexplained.length === 0 ? 1 : 0,
      metrics: {
        outcome:
          findings.length === 0
            ? 'no advisories'
            : `${findings.length} advisories, ${unexplained.length} unexplained`,
        seconds,
      },
      notes: findings.map((advisory) => {
        const explanation =
          explainedAdvisories[advisory.github_advisory_id ?? ''] ??
          explainedAdvisories[advisory.url];
        return `${advisory.severity} ${advisory.module_name} ${advisory.vulnerable_versions} (patched ${advisory.patched_versions}): ${advisory.title}, ${advisory.url}${explanation ? `; explained: ${explanation}` : '; NOT explained'}`;
      }),
    });
    expect(
      unexplained.map((advisory) => `${advisory.module_name}: ${advisory.title} ${advisory.url}`),
    ).toEqual([]);
  });
});
