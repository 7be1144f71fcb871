/**
 * Regenerates the README's Performance and Scaling tables from
 * bench/results/*.json, so the numbers in the README are always the measured ones.
 *
 *   npm run bench:report
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { describeGoal, format, goalMet, type BenchResult } from './harness.js';

/** Each section's results go between its markers in the README. */
const SECTIONS = {
  performance: ['<!-- bench:start -->', '<!-- bench:end -->'],
  scaling: ['<!-- scaling:start -->', '<!-- scaling:end -->'],
} as const;

const resultsDir = new URL('./results/', import.meta.url);
const results = readdirSync(resultsDir)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => JSON.parse(readFileSync(new URL(file, resultsDir), 'utf8')) as BenchResult);

function tables(results: readonly BenchResult[]): string[] {
  const lines: string[] = [];
  for (const result of results) {
    lines.push(`**bench/${result.bench}.ts** — ${result.date.slice(0, 10)}, Node ${result.node}, ${result.cpu}`, '');
    lines.push('| metric | distcache | anchor | ratio | goal | met |', '|---|---|---|---|---|---|');
    for (const r of result.rows) {
      const met = { true: 'yes', false: '**no**', undefined: '' }[String(goalMet(r))];
      lines.push(
        `| ${r.metric} | ${format(r.ours)} ${r.unit} | ${r.anchorName}: ${format(r.anchor)} ${r.unit} | ${r.ratio}x | ${describeGoal(r.goal)} | ${met} |`,
      );
    }
    lines.push('', ...result.notes.map((note) => `- ${note}`), '');
  }
  return lines;
}

const readmeUrl = new URL('../README.md', import.meta.url);
let readme = readFileSync(readmeUrl, 'utf8');
for (const [section, [START, END]] of Object.entries(SECTIONS)) {
  const chosen = results.filter((result) => (result.section ?? 'performance') === section);
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${START} ... ${END} markers`);
  readme = `${readme.slice(0, start + START.length)}\n${tables(chosen).join('\n')}\n${readme.slice(end)}`;
  console.log(`README.md: ${section} tables rebuilt from ${chosen.length} result file(s)`);
}
writeFileSync(readmeUrl, readme);
