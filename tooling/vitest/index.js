// Shared Vitest settings for every package: one reporter setup, so a suite that did not run on
// this machine (an absent database target, no browser) is named at the end of the run.
import { relative } from 'node:path';

/**
 * Lists each skipped top-level suite with its file. Suites skipped for a missing target carry the
 * reason in their name ("... on postgres (skipped: set QUARRY_TEST_DATABASE_URL)").
 * @implements {import('vitest/node').Reporter}
 */
export class SkippedSuitesReporter {
  /** @param {ReadonlyArray<import('vitest/node').TestModule>} testModules */
  onTestRunEnd(testModules) {
    const lines = [];
    for (const module of testModules) {
      const file = relative(process.cwd(), module.moduleId);
      for (const suite of module.children.suites()) {
        if (suite.state() === 'skipped') lines.push(`  ${file}: ${suite.name}`);
      }
    }
    if (lines.length === 0) return;
    process.stdout.write(`\nSkipped suites (${lines.length}):\n${lines.join('\n')}\n\n`);
  }
}

/** The reporters every package uses: Vitest's default, then the skipped-suite list. */
export const reporters = ['default', new SkippedSuitesReporter()];
