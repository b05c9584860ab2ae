// Admin routes for gateway tokens: issue for any user or service account, list with state and usage, revoke one or all of an owner.
import type Router from '@koa/router';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import type { Runtime } from '../runtime/runtime.js';
import { commandContext, type AdminContext, type AdminState } from './context.js';
import { listTokens, parseStateFilter, tokenView } from '../token-view.js';

export interface TokenRoutesDeps {
  readonly runtime: Runtime;
}

const query = (ctx: AdminContext, name: string): string | undefined => {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new ValidationError(`${name} may be given once`, [{ path: name, message: 'given more than once' }]);
  return value === undefined || value === '' ? undefined : value;
};

/** A revocation reason from `?reason=` or a JSON body `{"reason"}`. */
const reasonOf = (ctx: AdminContext): unknown => {
  const body = ctx.request.body as { reason?: unknown } | undefined;
  return query(ctx, 'reason') ?? (body && typeof body === 'object' ? body.reason : undefined);
};

export function registerTokenRoutes(api: Router<AdminState>, { runtime }: TokenRoutesDeps): void {
  const now = () => runtime.clock.now();
  const view = (id: string) => {
    const record = runtime.tokens.state.get(id);
    return record ? tokenView(record, runtime.tokenUsage.state, now()) : undefined;
  };

  // The only answer that ever carries the secret.
  api.post('/tokens', async (ctx) => {
    const { record, token } = await runtime.tokenCommands.issue(ctx.request.body, commandContext(ctx));
    await runtime.whenCompiled(); // every worker knows the token before its secret is handed out
    ctx.status = 201;
    ctx.set('location', `/api/v1/tokens/${record.id}`);
    ctx.body = { ...tokenView(record, runtime.tokenUsage.state, now()), token };
  });

  api.get('/tokens', (ctx) => {
    const owner = query(ctx, 'owner');
    const state = parseStateFilter(query(ctx, 'state'));
    const index = runtime.tokens.state;
    const records = owner !== undefined ? index.ofOwner(owner) : index.all();
    const tokens = listTokens(records, runtime.tokenUsage.state, now(), state);
    ctx.body = { tokens };
  });

  api.get('/tokens/:id', (ctx) => {
    const found = view(ctx.params.id!);
    if (!found) throw new NotFoundError(`no token ${ctx.params.id!}`);
    ctx.body = found;
  });

  api.delete('/tokens/:id', async (ctx) => {
    await runtime.tokenCommands.revoke(ctx.params.id!, reasonOf(ctx), commandContext(ctx));
    await runtime.whenCompiled(); // revoked in every worker before the admin hears so
    ctx.status = 204;
  });

  // Revoke every active token of one owner (someone left, a laptop was lost).
  api.delete('/tokens', async (ctx) => {
    const owner = query(ctx, 'owner');
    if (owner === undefined) {
      throw new ValidationError('name the owner whose tokens to revoke', [{ path: 'owner', message: 'required' }]);
    }
    const revoked = await runtime.tokenCommands.revokeAllOf(owner, reasonOf(ctx), commandContext(ctx));
    await runtime.whenCompiled();
    ctx.body = { owner, revoked };
  });
}
