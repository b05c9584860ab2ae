// `portcullis tokens list` as a table for people: one line per token, never its secret or hash.
import type { TokenFacts } from '../../core/tokens/token-facts.js';

const COLUMNS = ['ID', 'OWNER', 'NAME', 'KIND', 'STATE', 'EXPIRES', 'LAST USED'] as const;
const MAX_CELL = 40;

/** `2024-04-04T06:07:08.000Z` → `2024-04-04 06:07Z`: the minute is precise enough to read. */
const when = (iso: string | null, none: string): string => (iso === null ? none : `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`);

const cell = (text: string): string => (text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text);

/** `lastUsed: false` leaves out the LAST USED column (a replayed state knows no use). */
export function formatTokenTable(tokens: readonly (TokenFacts & { readonly lastUsedAt?: string | null })[], { lastUsed = true } = {}): string {
  if (tokens.length === 0) return 'no tokens\n';
  const titles = lastUsed ? COLUMNS : COLUMNS.slice(0, -1);
  const rows = tokens.map((t) => {
    const row = [t.id, cell(t.owner), cell(t.name), t.kind, t.state, when(t.expiresAt, 'never')];
    return lastUsed ? [...row, when(t.lastUsedAt ?? null, '-')] : row;
  });
  const widths = titles.map((title, i) => Math.max(title.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${[line(titles), ...rows.map(line)].join('\n')}\n`;
}
