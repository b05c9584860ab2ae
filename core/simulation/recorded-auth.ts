// The authenticate stand-in of a simulation: credentials are never stored, so the recorded identity stands for the credential's verdict.
import { deny, type AccessRequest, type Identity } from '../access.js';
import type { Outcome, Stage } from '../pipeline.js';
import type { DecisionRecord } from '../decision-log/record.js';

/** The record being re-run; the simulation sets it before each decision (one decision at a time). */
export interface RecordSlot {
  current?: DecisionRecord;
  /** The identity's token scopes (a decision test's case gives them; the decision log keeps none). */
  scopes?: readonly string[] | undefined;
}

const missing = deny(401, 'missing_credential', 'this API requires authentication', { challenge: true });
/** A credential was recorded but the decision ended before authentication: nobody knows whose it was. */
const unknown = deny(401, 'identity_unknown', 'the recorded decision never reached authentication', { challenge: true });

/**
 * Stands in for the authenticate stage under the name `authenticate`:
 * - no credential recorded: missing_credential (or anonymous where the candidate lets callers in);
 * - a recorded identity: that identity, as the provider that established it (`provider=<id>`);
 * - a credential refused or passed through by authentication: the recorded verdict again;
 * - otherwise `identity_unknown` (401).
 * Gateway-token scopes are not re-judged: the token record is not in the log.
 */
export function recordedAuthenticate(slot: RecordSlot): Stage {
  return {
    name: 'authenticate',
    run(request: AccessRequest, state, next): Outcome {
      const record = slot.current;
      if (request.credentialError) return deny(400, 'invalid_request', request.credentialError, { challenge: true });
      if (!record?.credential) return state.anonymousAllowed ? next('anonymous') : missing;
      const recorded = record.identity;
      if (recorded) {
        const identity: Identity = {
          subject: recorded.subject,
          username: recorded.username,
          groups: recorded.groups,
          provider: recorded.provider,
          scopes: slot.scopes ?? [],
          ...(recorded.tokenId !== undefined ? { tokenId: recorded.tokenId } : {}),
        };
        state.identity = identity;
        state.credentialConsumed = true;
        return next(`provider=${recorded.provider}`);
      }
      if (record.reason === 'pass_through') {
        state.passThrough = record.credential === 'basic' ? 'basic' : 'pat';
        return next(`${state.passThrough} pass-through`);
      }
      if (record.stage === 'authenticate' && !record.allow) {
        return deny(record.status, record.reason, 'as recorded', { challenge: record.status === 401 });
      }
      return unknown;
    },
  };
}
