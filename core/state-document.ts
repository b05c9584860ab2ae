// The configuration state as answers show it (settings, providers, tokens; secrets masked), and the hash that compares two of them.
import { createHash } from 'node:crypto';
import { MASK, SecretBox, maskSecretFields } from './secrets.js';
import type { ConfigState } from './settings/config-state.js';
import { isJsonObject, type JsonObject, type JsonValue } from './settings/merge-patch.js';
import type { Settings } from './settings/schema.js';
import { canonicalJson } from './store/hash.js';
import { newestFirst, tokenFacts, type TokenFacts } from './tokens/token-facts.js';
import type { TokenIndex } from './tokens/token-index.js';

export interface ProviderState {
  readonly id: string;
  readonly kind: string;
  readonly enabled: boolean;
  readonly order: number;
  /** Secret fields as `********`. */
  readonly config: JsonObject;
  readonly revision: number;
  readonly updatedAt: string;
}

export interface StateDocument {
  readonly settings: { readonly revision: number; readonly settings: Settings; readonly document: JsonObject };
  /** By order, then id (the order the pipeline tries them in). */
  readonly providers: readonly ProviderState[];
  /** Every token ever issued, revoked and expired ones included, newest first; never a hash. */
  readonly tokens: readonly TokenFacts[];
}

/** A plugin's secret fields (dot paths); an unknown kind has none. */
export type SecretFieldsOf = (kind: string) => readonly string[];

/**
 * The state with secrets masked as `export` masks them, plus any value still sealed by the
 * secret key (a provider whose plugin is no longer installed does not name its secret fields).
 * Token states are judged at `now`.
 */
export function stateDocument(config: ConfigState, tokens: TokenIndex, secretFieldsOf: SecretFieldsOf, now: number): StateDocument {
  const providers = Object.values(config.providers)
    .sort((a, b) => a.order - b.order || a.id.localeCompare(b.id))
    .map(
      (r): ProviderState => ({
        id: r.id,
        kind: r.kind,
        enabled: r.enabled,
        order: r.order,
        config: maskSealed(maskSecretFields(r.config, secretFieldsOf(r.kind))) as JsonObject,
        revision: r.revision,
        updatedAt: r.updatedAt,
      }),
    );
  const facts: TokenFacts[] = [];
  for (const record of tokens.all()) facts.push(tokenFacts(record, now));
  return {
    settings: { revision: config.settingsRevision, settings: config.settings, document: config.document },
    providers,
    tokens: facts.sort(newestFirst),
  };
}

/** sha256 (hex) of the document's canonical JSON: equal documents, equal hashes, whatever their key order. */
export const stateHash = (document: StateDocument): string => createHash('sha256').update(canonicalJson(document)).digest('hex');

/** Every sealed string replaced by the mask. */
export function maskSealed(value: JsonValue): JsonValue {
  if (SecretBox.isSealed(value)) return MASK;
  if (Array.isArray(value)) return value.map(maskSealed);
  if (isJsonObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSealed(v)]));
  return value;
}
