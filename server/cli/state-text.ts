// `portcullis replay` for people: where the replay stopped, then settings, providers and tokens, one value a line; secrets stay masked.
import { jsonDiff } from '../../core/json-diff.js';
import type { JsonObject } from '../../core/settings/merge-patch.js';
import type { StateAnswer } from '../state-answer.js';
import { formatTokenTable } from './token-table.js';

/** `path: value` for every leaf of a document, indented. */
const leaves = (document: JsonObject, indent: string): string[] =>
  jsonDiff({}, document).map((c) => `${indent}${c.path}: ${JSON.stringify(c.new)}`);

export function formatState(answer: StateAnswer): string {
  const lines: string[] = [];
  if (answer.asOf) {
    const { requested, at, lastChange } = answer.asOf;
    lines.push(`state as of ${at}${requested.trim() === at ? '' : ` (asked: ${requested})`}`);
    lines.push(lastChange ? `last change: position ${lastChange.position}, ${lastChange.time}` : 'last change: none (nothing configured yet)');
  } else {
    lines.push('state after the last event');
  }
  lines.push(`state hash: ${answer.hash}`, '');

  const document = answer.settings.document;
  lines.push(`settings: revision ${answer.settings.revision}${Object.keys(document).length ? ' (what admins set; the rest are defaults)' : ', all defaults'}`);
  lines.push(...leaves(document, '  '), '');

  lines.push(`providers: ${answer.providers.length}`);
  for (const p of answer.providers) {
    lines.push(`  ${p.id} (${p.kind}), ${p.enabled ? 'enabled' : 'disabled'}, order ${p.order}, revision ${p.revision}, updated ${p.updatedAt}`);
    lines.push(...leaves(p.config, '    '));
  }
  lines.push('');

  const revoked = answer.tokens.filter((t) => t.state === 'revoked').length;
  lines.push(`tokens: ${answer.tokens.length}${revoked ? ` (${revoked} revoked)` : ''}`);
  return `${lines.join('\n')}\n${answer.tokens.length ? formatTokenTable(answer.tokens, { lastUsed: false }) : ''}`;
}
