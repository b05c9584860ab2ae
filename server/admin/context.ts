// What every admin route shares: its Koa state, conditional-request parsing, and the acting admin for events.
import type Koa from 'koa';
import type { CommandContext } from '../../core/commands.js';
import { ValidationError } from '../../core/errors.js';
import { canonicalAddress } from '../../core/net.js';
import type { ConsoleSession } from './session-cookie.js';

export interface AdminState {
  requestId: string;
  /** Who is acting: `admin` for the admin token (Bearer, or a session signed in with it), `oidc:<provider>:<username>` for a console session. */
  actor: string;
  /** The console session the request came with, when it was authenticated by the cookie. */
  session?: ConsoleSession;
}

export type AdminContext = Koa.ParameterizedContext<AdminState>;

/** `"12"`, `W/"12"` or `12` → 12; absent or `*` → undefined. */
export function parseIfMatch(value: string | undefined): number | undefined {
  if (value === undefined || value === '' || value.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(value);
  if (!m) throw new ValidationError('If-Match must be a revision such as "3"', [{ path: 'If-Match', message: 'not a revision' }]);
  return Number(m[1]);
}

/** The acting admin, recorded in the metadata of the events a command appends. */
export function commandContext(ctx: AdminContext): CommandContext {
  return {
    actor: ctx.state.actor ?? 'admin',
    sourceIp: canonicalAddress(ctx.req.socket.remoteAddress ?? ''),
    correlationId: ctx.state.requestId,
  };
}
