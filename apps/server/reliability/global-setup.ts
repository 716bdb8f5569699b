import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { readTrials, reliabilityOutputDir, reportPath, trialsDir, type Trial } from './report';

function cell(value: string | number): string {
  return String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Attempts and survivals over every trial. */
function totals(trials: Trial[]): { total: number; survived: number } {
  return {
    total: trials.reduce((sum, trial) => sum + trial.attempts, 0),
    survived: trials.reduce((sum, trial) => sum + trial.survived, 0),
  };
}

/** A trial's figures as `name: value; ...`. */
function metricsText(trial: Trial): string {
  return Object.entries(trial.metrics ?? {})
    .map(([name, value]) => `${name}: ${value}`)
    .join('; ');
}

export function renderReport(trials: Trial[], startedAt: Date): string {
  const lines = [
    '# Quarry reliability report',
    '',
    `Run ${startedAt.toISOString()} by \`pnpm test:reliability\` on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
    '',
  ];
  const suites = [...new Set(trials.map((trial) => trial.suite))];
  const { total, survived } = totals(trials);
  lines.push(
    `${trials.length} scenarios, ${total} attempts, ${survived} survived${survived === total ? '' : ` (**${total - survived} did not**)`}.`,
    '',
  );
  for (const suite of suites) {
    lines.push(
      `## ${suite}`,
      '',
      '| Scenario | Attempts | Survived | Measured |',
      '|---|---:|---:|---|',
    );
    const rows = trials.filter((trial) => trial.suite === suite);
    for (const trial of rows) {
      const metrics = metricsText(trial);
      lines.push(
        `| ${cell(trial.scenario)} | ${trial.attempts} | ${trial.survived === trial.attempts ? trial.survived : `**${trial.survived}**`} | ${cell(metrics)} |`,
      );
    }
    const notes = rows.flatMap((trial) =>
      (trial.notes ?? []).map((note) => `- ${trial.scenario}: ${note}`),
    );
    if (notes.length > 0) lines.push('', ...notes);
    lines.push('');
  }
  if (trials.length === 0) lines.push('No trials were recorded: the suites did not run.', '');
  return lines.join('\n');
}

/**
 * What the console shows at the end: the totals and each scenario that did not survive, with its
 * figures and notes (the whole report is long, and a CI log is read from its end).
 */
export function renderSummary(trials: Trial[]): string {
  const { total, survived } = totals(trials);
  const lines = [
    `Reliability: ${trials.length} scenarios in ${new Set(trials.map((trial) => trial.suite)).size} suites, ${total} attempts, ${survived} survived.`,
  ];
  for (const trial of trials.filter((trial) => trial.survived < trial.attempts)) {
    const metrics = metricsText(trial);
    lines.push(
      `- NOT SURVIVED ${trial.survived} of ${trial.attempts}: ${trial.suite}: ${trial.scenario}${metrics ? ` (${metrics})` : ''}`,
      ...(trial.notes ?? []).map((note) => `    ${note.slice(0, 600)}`),
    );
  }
  if (trials.length === 0) lines.push('No trials were recorded: the suites did not run.');
  return lines.join('\n');
}

/** Clears the previous run's trials before the suites start; renders the report after they end. */
export default function setup() {
  const startedAt = new Date();
  rmSync(trialsDir, { recursive: true, force: true });
  mkdirSync(trialsDir, { recursive: true });
  return () => {
    mkdirSync(reliabilityOutputDir, { recursive: true });
    const trials = readTrials();
    const report = renderReport(trials, startedAt);
    writeFileSync(reportPath, report);
    console.log(`\n${renderSummary(trials)}\nThe whole report: ${reportPath}`);
  };
}
