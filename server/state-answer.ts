// The answer of GET /api/v1/state and `portcullis replay --json`: the state document, its hash, and the point it was replayed to.
import type { ReplayedState } from '../core/replay.js';
import { stateDocument, stateHash, type SecretFieldsOf, type StateDocument } from '../core/state-document.js';
import type { ConfigState } from '../core/settings/config-state.js';
import type { Position } from '../core/store/port.js';
import type { TokenIndex } from '../core/tokens/token-index.js';

export interface AsOfAnswer {
  /** What was asked for, as given. */
  readonly requested: string;
  /** The instant the state is judged at (token expiry), ISO 8601. */
  readonly at: string;
  /** The last configuration or token event at or before that point; null when there was none yet. */
  readonly lastChange: { readonly position: Position; readonly time: string } | null;
}

export interface StateAnswer extends StateDocument {
  /** null: the live state (or the whole history, from the CLI). */
  readonly asOf: AsOfAnswer | null;
  /** sha256 of the canonical JSON of settings, providers and tokens: equal states, equal hashes. */
  readonly hash: string;
}

function answer(asOf: AsOfAnswer | null, document: StateDocument): StateAnswer {
  return { asOf, hash: stateHash(document), ...document };
}

/** The state as the running projections hold it. */
export const liveAnswer = (config: ConfigState, tokens: TokenIndex, secretFieldsOf: SecretFieldsOf, now: number): StateAnswer =>
  answer(null, stateDocument(config, tokens, secretFieldsOf, now));

/** A replay's state; `requested` undefined for a replay of the whole history. */
export function replayAnswer(replayed: ReplayedState, requested: string | undefined, secretFieldsOf: SecretFieldsOf): StateAnswer {
  const asOf: AsOfAnswer | null =
    requested === undefined ? null : { requested, at: new Date(replayed.at).toISOString(), lastChange: replayed.lastChange ?? null };
  return answer(asOf, stateDocument(replayed.config, replayed.tokens, secretFieldsOf, replayed.at));
}
