// What changed between two JSON documents, as path/old/new lines: objects are walked key by key, anything else compared whole.
import { isJsonObject, type JsonValue } from './settings/merge-patch.js';
import { canonicalJson } from './store/hash.js';
import { formatIssuePath } from './validate.js';

/** One changed path: `old` absent means it was added, `new` absent that it was removed. */
export interface Change {
  /** `ip.allow`, `groups.mapping["a b"]`, `config.clientSecret`. */
  readonly path: string;
  readonly old?: JsonValue;
  readonly new?: JsonValue;
}

/**
 * Every path whose value differs, in the order of `before`'s keys then the keys `after` added.
 * Arrays are values, not walked: a changed list shows as one line with both lists.
 *
 * @example jsonDiff({ ip: { allow: ['10.0.0.0/8'] } }, { ip: {}, enabled: false })
 * // [{ path: 'ip.allow', old: ['10.0.0.0/8'] }, { path: 'enabled', new: false }]
 */
export function jsonDiff(before: JsonValue | undefined, after: JsonValue | undefined): Change[] {
  const changes: Change[] = [];
  walk(before, after, [], changes);
  return changes;
}

function walk(before: JsonValue | undefined, after: JsonValue | undefined, path: string[], out: Change[]): void {
  // An object that appeared or went is walked too, so every line names a leaf.
  const objects = (isJsonObject(before) || isJsonObject(after)) && (isJsonObject(before) || before === undefined) && (isJsonObject(after) || after === undefined);
  if (objects) {
    const b = before ?? {};
    const a = after ?? {};
    const keys = [...Object.keys(b), ...Object.keys(a).filter((k) => !Object.hasOwn(b, k))];
    for (const key of keys) walk(b[key], a[key], [...path, key], out);
    return;
  }
  if (before === undefined && after === undefined) return;
  if (before !== undefined && after !== undefined && canonicalJson(before) === canonicalJson(after)) return;
  out.push({ path: formatIssuePath(path), ...(before !== undefined ? { old: before } : {}), ...(after !== undefined ? { new: after } : {}) });
}
