// Run any Standard Schema (zod, valibot ...) and turn its issues into field errors with readable paths.
import type { StandardSchemaV1 } from '@standard-schema/spec';

/** One field error: `path` like `algorithms[0]` or `groups.mapping["a b"]` ('' for the root). */
export interface FieldIssue {
  readonly path: string;
  readonly message: string;
}

/** Alias of {@link FieldIssue}, the name other modules import. */
export type Issue = FieldIssue;

export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: FieldIssue[] };

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Render a Standard Schema issue path: `a.b[0]`, with odd keys quoted: `mapping["x.y"]`. */
export function formatIssuePath(path: StandardSchemaV1.Issue['path']): string {
  let out = '';
  for (const part of path ?? []) {
    const key = typeof part === 'object' ? part.key : part;
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'symbol') out += `[${key.toString()}]`;
    else if (IDENTIFIER.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

/**
 * Validate `value` against a Standard Schema.
 *
 * @example
 * ```ts
 * const r = await validateWith(plugin.configSchema, body.config);
 * if (!r.ok) return badRequest(r.issues); // [{ path: 'algorithms[0]', message: '...' }]
 * ```
 */
export async function validateWith<T>(schema: StandardSchemaV1<unknown, T>, value: unknown): Promise<ValidationResult<T>> {
  const result = await schema['~standard'].validate(value);
  if (result.issues === undefined) return { ok: true, value: result.value };
  return {
    ok: false,
    issues: result.issues.flatMap((issue) => {
      // zod reports unknown keys once for their parent, with the keys on the side: name each one.
      const keys = (issue as { keys?: unknown }).keys;
      if (Array.isArray(keys) && keys.every((k) => typeof k === 'string')) {
        return keys.map((key) => ({ path: formatIssuePath([...(issue.path ?? []), key]), message: 'unknown field' }));
      }
      return [{ path: formatIssuePath(issue.path), message: issue.message }];
    }),
  };
}
