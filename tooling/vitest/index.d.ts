import type { Reporter, TestModule } from 'vitest/node';

/** Lists each skipped top-level suite with its file at the end of the run. */
export declare class SkippedSuitesReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void;
}

/** The reporters every package uses: Vitest's default, then the skipped-suite list. */
export declare const reporters: Array<'default' | Reporter>;
