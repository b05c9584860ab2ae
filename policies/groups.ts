// Groups: derive gateway groups from the identity (mapping), then admit only callers in an allowed or read-only group.
import { deny, type Identity } from '../core/access.js';
import { compileClaimPath, type ClaimPath } from '../core/claims.js';
import type { Outcome, Stage } from '../core/pipeline.js';
import type { GroupMappingRule } from '../core/settings/schema.js';

export interface GroupsConfig {
  /** When not empty, an identified caller must be in one of these, or in a read-only group. */
  readonly allowed: readonly string[];
  readonly readOnly: readonly string[];
  readonly mapping: readonly GroupMappingRule[];
}

type Condition = (identity: Identity) => boolean;

/** A mapping rule as a predicate over the identity: every condition given must hold. */
function compileRule(rule: GroupMappingRule): Condition {
  const conditions: Condition[] = [];
  if (rule.provider !== undefined) conditions.push((id) => id.provider === rule.provider);
  if (rule.group !== undefined) conditions.push((id) => id.groups.includes(rule.group!));
  if (rule.scope !== undefined) conditions.push((id) => id.scopes.includes(rule.scope!));
  if (rule.claim !== undefined) {
    const read: ClaimPath = compileClaimPath(rule.claim);
    const want = rule.value;
    conditions.push((id) => {
      const value = id.claims ? read(id.claims) : undefined;
      if (want === undefined) return value !== undefined && value !== null && value !== false && value !== '';
      return Array.isArray(value) ? value.some((v) => String(v) === want) : value !== undefined && String(value) === want;
    });
  }
  return (id) => conditions.every((c) => c(id));
}

export function groups(config: GroupsConfig): Stage {
  const admitted = new Set([...config.allowed, ...config.readOnly]);
  const restricted = config.allowed.length > 0;
  const rules = config.mapping.map((rule) => ({ to: rule.to, holds: compileRule(rule) }));
  const refused = deny(403, 'group_not_allowed', 'you are not in a group allowed to use this API');

  /** The identity with the groups the mapping adds (itself when it adds none). */
  const map = (identity: Identity): Identity => {
    const added = rules.filter((r) => !identity.groups.includes(r.to) && r.holds(identity)).map((r) => r.to);
    return added.length > 0 ? { ...identity, groups: [...identity.groups, ...new Set(added)] } : identity;
  };
  /**
   * Identities come from caches and are immutable, and the rules read nothing but the identity:
   * each one is mapped once per compiled pipeline, and the same mapped object is handed on, so
   * the identity headers built for it are reused too.
   */
  const mapped = new WeakMap<Identity, Identity>();
  const mappedOnce = (identity: Identity): Identity => {
    let result = mapped.get(identity);
    if (result === undefined) {
      result = map(identity);
      mapped.set(identity, result);
    }
    return result;
  };

  return {
    name: 'groups',
    run(_request, state, next): Outcome {
      let identity = state.identity;
      // Anonymous callers only get here on public paths and anonymous routes.
      if (!identity) return next();
      if (rules.length > 0) {
        identity = mappedOnce(identity);
        state.identity = identity;
      }
      if (restricted && !identity.groups.some((g) => admitted.has(g))) return refused;
      return next();
    },
  };
}
