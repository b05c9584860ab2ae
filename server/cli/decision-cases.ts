// Decision cases for `portcullis test` and `apply --test`: reading and checking the cases file, running it, and the readable report.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { TraceEntry } from '../../core/access.js';
import { casesFileSchema, runDecisionTests, type CasesFile, type DecisionTestReport } from '../../core/simulation/decision-tests.js';
import type { Settings } from '../../core/settings/schema.js';
import { validateWith } from '../../core/validate.js';
import { compileCandidate } from '../runtime/simulate.js';
import { FileAccessError } from '../system-error.js';
import { ConfigAsCodeError } from './config-file.js';
import type { Output } from './output.js';

/** A file's text. @throws FileAccessError naming the file */
export async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new FileAccessError('read', file, err);
  }
}

/**
 * The cases file, validated.
 * @throws ConfigAsCodeError naming each bad field by its path (`cases[2].request.path`)
 */
export async function readCasesFile(file: string): Promise<CasesFile> {
  let doc: unknown;
  try {
    doc = parseYaml(await readText(file));
  } catch (err) {
    if (err instanceof FileAccessError) throw err;
    throw new ConfigAsCodeError('the file is not YAML');
  }
  const checked = await validateWith(casesFileSchema, doc ?? {});
  if (!checked.ok) throw new ConfigAsCodeError('the decision cases are not valid', checked.issues);
  return checked.value;
}

const outcome = (o: { allow: boolean; reason?: string; status?: number }): string =>
  `${o.allow ? 'allow' : `deny ${o.reason ?? ''}`}${o.status !== undefined ? ` (${o.status})` : ''}`;
const traceLine = (t: TraceEntry): string => `${t.stage} ${t.outcome}${t.reason ? ` ${t.reason}` : ''}${t.detail ? ` (${t.detail})` : ''}`;

/** One line a case, and under each failing one what it got and its trace; then the totals. */
export function formatReport(report: DecisionTestReport): string {
  const lines: string[] = [];
  for (const r of report.results) {
    if (r.passed) {
      lines.push(`ok    ${r.name}`);
      continue;
    }
    lines.push(`FAIL  ${r.name}`, `      expected ${outcome(r.expected)}, got ${outcome({ allow: r.actual.allow, reason: r.actual.reason })} (${r.actual.status}, stage ${r.actual.stage})`);
    lines.push(`      trace: ${r.trace.map(traceLine).join(' → ')}`);
  }
  lines.push('', `${report.passed} passed, ${report.failed} failed`);
  return `${lines.join('\n')}\n`;
}

/** Run the cases through `settings` and print the report; true when every case passed. */
export async function checkDecisions(cases: CasesFile, settings: Settings, json: boolean, output: Output): Promise<boolean> {
  const report = await runDecisionTests(cases, compileCandidate(settings));
  output.out(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.failed === 0;
}
