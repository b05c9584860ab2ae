// What every admin route shares: its Koa state, conditional-request parsing, and the acting admin for events.
import type Koa from 'koa';
import type { CommandContext } from '../../core/commands.js';
import { ValidationError } from '../../core/errors.js';
import { canonicalAddress } from '../../core/net.js';

export interface AdminState {
  requestId: string;
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
    actor: 'admin',
    sourceIp: canonicalAddress(ctx.req.socket.remoteAddress ?? ''),
    correlationId: ctx.state.requestId,
  };
}
