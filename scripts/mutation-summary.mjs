// Writes reports/mutation/summary.md from Stryker's JSON report: the score per file and every surviving
// mutant. The summary is committed (the HTML and JSON reports are large and rebuilt by `npm run mutate`).
// @ts-check
import { readFileSync, writeFileSync } from 'node:fs';

// `--merge`: keep the rows (score and survivors) of files the JSON report does not hold from the summary being
// replaced. For a run narrowed with `--mutate` without the incremental file of the earlier runs: the JSON report then
// holds only the files of that run.
const merge = process.argv.includes('--merge');
const [input = 'reports/mutation/mutation.json', output = 'reports/mutation/summary.md'] = process.argv.slice(2).filter((a) => a !== '--merge');

/** @typedef {{ id: string, mutatorName: string, replacement?: string, status: string, location: { start: { line: number, column: number }, end: { line: number, column: number } } }} Mutant */
/** @type {{ files: Record<string, { source: string, mutants: Mutant[] }> }} */
const report = JSON.parse(readFileSync(input, 'utf8'));

const COUNTED = ['Killed', 'Timeout', 'Survived', 'NoCoverage'];
/** Stryker's mutation score: detected (killed, timed out) over every mutant that was valid and not ignored. */
const score = (/** @type {Record<string, number>} */ n) => {
  const valid = COUNTED.reduce((sum, s) => sum + (n[s] ?? 0), 0);
  return valid === 0 ? 100 : (100 * ((n.Killed ?? 0) + (n.Timeout ?? 0))) / valid;
};

const COLUMNS = ['Killed', 'Timeout', 'Survived', 'NoCoverage', 'CompileError', 'Ignored'];
/** Per file: the counts and survivor rows of the summary being replaced (only with --merge). */
/** @type {Map<string, { n: Record<string, number>, survivors: string[] }>} */
const carried = new Map();
if (merge) {
  const previous = readFileSync(output, 'utf8').split('\n');
  for (const line of previous) {
    const cells = line.split(' | ').map((c) => c.replace(/^\| |\s*\|$/g, ''));
    if (cells.length === 8 && /^\d+\.\d\d$/.test(cells[1] ?? '')) {
      carried.set(cells[0] ?? '', { n: Object.fromEntries(COLUMNS.map((c, i) => [c, Number(cells[i + 2])])), survivors: [] });
    }
  }
  for (const line of previous) {
    const where = /^\| ([^ |]+):\d+:\d+ \| (Survived|NoCoverage) \|/.exec(line);
    if (where) carried.get(where[1] ?? '')?.survivors.push(line);
  }
  for (const name of Object.keys(report.files)) carried.delete(name);
}

/** @type {Record<string, number>} */
const total = {};
const rows = [];
const survivors = [];
for (const name of [...new Set([...Object.keys(report.files), ...carried.keys()])].sort()) {
  const kept = carried.get(name);
  const file = report.files[name];
  /** @type {Record<string, number>} */
  const n = kept?.n ?? {};
  for (const m of file?.mutants ?? []) n[m.status] = (n[m.status] ?? 0) + 1;
  for (const [status, count] of Object.entries(n)) total[status] = (total[status] ?? 0) + count;
  rows.push(`| ${name} | ${score(n).toFixed(2)} | ${n.Killed ?? 0} | ${n.Timeout ?? 0} | ${n.Survived ?? 0} | ${n.NoCoverage ?? 0} | ${n.CompileError ?? 0} | ${n.Ignored ?? 0} |`);
  if (kept || !file) {
    survivors.push(...(kept?.survivors ?? []));
    continue;
  }
  const lines = file.source.split('\n');
  for (const m of file.mutants.filter((x) => x.status === 'Survived' || x.status === 'NoCoverage')) {
    const { start, end } = m.location;
    const original = start.line === end.line ? (lines[start.line - 1] ?? '').slice(start.column - 1, end.column - 1) : `${(lines[start.line - 1] ?? '').slice(start.column - 1)} …`;
    const clip = (/** @type {string} */ s) => (s.length > 90 ? `${s.slice(0, 87)}...` : s).replaceAll('|', '\\|').replaceAll('\n', ' ');
    survivors.push(`| ${name}:${start.line}:${start.column} | ${m.status} | ${m.mutatorName} | \`${clip(original.trim())}\` → \`${clip(m.replacement ?? '')}\` |`);
  }
}

const text = [
  '# Mutation testing: summary',
  '',
  `Written by \`scripts/mutation-summary.mjs\` from \`${input}\`${carried.size > 0 ? `, and for ${carried.size} files it does not hold, from the earlier summary (\`--merge\`)` : ''} (see docs/testing.md, "Mutation testing").`,
  '',
  `**Mutation score: ${score(total).toFixed(2)} %** (killed ${total.Killed ?? 0}, timed out ${total.Timeout ?? 0}, survived ${total.Survived ?? 0}, no coverage ${total.NoCoverage ?? 0}; not counted: compile errors ${total.CompileError ?? 0}, static mutants ignored ${total.Ignored ?? 0})`,
  '',
  '| file | score % | killed | timeout | survived | no coverage | compile error | ignored (static) |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows,
  '',
  '## Surviving mutants',
  '',
  survivors.length === 0 ? 'None.' : '| where | status | mutator | original → mutant |',
  ...(survivors.length === 0 ? [] : ['|---|---|---|---|', ...survivors]),
  '',
].join('\n');
writeFileSync(output, text);
console.log(`mutation score ${score(total).toFixed(2)} %; ${survivors.length} surviving mutants; summary in ${output}`);
