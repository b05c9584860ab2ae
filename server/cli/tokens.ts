// `portcullis tokens create|list|revoke`: gateway tokens against the store the process configuration names, through the same commands as the admin API.
import { parseArgs } from 'node:util';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { systemClock, type Clock } from '../../core/clock.js';
import type { CommandContext } from '../../core/commands.js';
import { GatewayError, ValidationError, type FieldError } from '../../core/errors.js';
import type { Projection } from '../../core/projection.js';
import { openEventStore } from '../../core/store/open.js';
import type { EventStore } from '../../core/store/port.js';
import { adminTokenRequest, revocationRequest, TokenCommands } from '../../core/tokens/commands.js';
import { tokenIndexProjection, tokenUsageProjection } from '../../core/tokens/projections.js';
import { isUsable, TOKEN_STATES, type TokenIndex, type TokenState } from '../../core/tokens/token-index.js';
import { TokenUsageIndex } from '../../core/tokens/usage.js';
import { validateWith } from '../../core/validate.js';
import { processOutput, readConfigState, stderrLogger, type Output } from './config-as-code.js';
import type { ProcessConfig } from '../config.js';
import { formatTokenTable } from './token-table.js';
import { listTokens, tokenView } from '../token-view.js';
import { UsageError } from './usage-error.js';

/** The actor recorded in the metadata of the events these commands append (and as `createdBy` / `revokedBy`). */
export const TOKENS_ACTOR = 'cli';

export const TOKENS_USAGE = `  tokens create         issue a gateway token: the secret is printed once, on stdout
      --owner <name>      the user (or service account) the token acts as (required)
      --name <label>      what the token is for (required)
      --service           a service account's token (not counted by tokens.maxPerUser)
      --group <g>         a group of the token (repeat for several)
      --expires-in-days <n>  lifetime (default tokens.defaultExpiryDays), or
      --never             a token that never expires (only when tokens.maxExpiryDays is false)
      --read-only         GET, HEAD and OPTIONS only
      --path-prefix </p>  only this path and below (repeat for several)
      --ip <cidr>         only from this address or CIDR (repeat for several)
  tokens list           list tokens: id, owner, name, state, expiry, last use (never a secret)
      --owner <name>      one owner's tokens
      --state <state>     ${TOKEN_STATES.join(', ')}
  tokens revoke <id>    revoke one token
  tokens revoke --owner <name>  revoke every active token of an owner
      --reason <text>     recorded with the revocation
      --json              (create, list, revoke) print JSON, in the admin API's shapes
`;

export type TokensCommand =
  | { readonly action: 'create'; readonly request: Record<string, unknown>; readonly json: boolean }
  | { readonly action: 'list'; readonly owner?: string; readonly state?: TokenState; readonly json: boolean }
  | { readonly action: 'revoke'; readonly id: string; readonly reason?: string; readonly json: boolean }
  | { readonly action: 'revoke-owner'; readonly owner: string; readonly reason?: string; readonly json: boolean };

export interface TokensInvocation {
  readonly config?: string;
  /** Absent for `--help`. */
  readonly command?: TokensCommand;
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  owner: { type: 'string' },
  name: { type: 'string' },
  service: { type: 'boolean' },
  group: { type: 'string', multiple: true },
  'expires-in-days': { type: 'string' },
  never: { type: 'boolean' },
  'read-only': { type: 'boolean' },
  'path-prefix': { type: 'string', multiple: true },
  ip: { type: 'string', multiple: true },
  state: { type: 'string' },
  reason: { type: 'string' },
} as const;

type Option = keyof typeof OPTIONS;
type Action = 'create' | 'list' | 'revoke';

const ACTIONS: Record<Action, readonly Option[]> = {
  create: ['owner', 'name', 'service', 'group', 'expires-in-days', 'never', 'read-only', 'path-prefix', 'ip'],
  list: ['owner', 'state'],
  revoke: ['owner', 'reason'],
};
const EVERYWHERE: readonly Option[] = ['config', 'help', 'json'];

/** The flag behind each field of the request, so a problem names what the operator typed. */
const FLAGS: Readonly<Record<string, string>> = {
  owner: '--owner',
  name: '--name',
  kind: '--service',
  groups: '--group',
  expiresInDays: '--expires-in-days',
  readOnly: '--read-only',
  pathPrefixes: '--path-prefix',
  ipAllow: '--ip',
  reason: '--reason',
};

/** `ipAllow[1]: must be …` → `--ip "10.0.0.300": must be …` (values of these fields are never secret). */
function describeField(field: FieldError, request: Record<string, unknown>): string {
  const m = /^([A-Za-z]+)(?:\[(\d+)\])?/.exec(field.path);
  const flag = m?.[1] === 'expiresInDays' && request.expiresInDays === null ? '--never' : m ? FLAGS[m[1]!] : undefined;
  if (!m || !flag) return `${field.path || '(request)'}: ${field.message}`;
  const list = request[m[1]!];
  const value = m[2] !== undefined && Array.isArray(list) ? ` ${JSON.stringify(list[Number(m[2])])}` : '';
  return `${flag}${value}: ${field.message}`;
}

const describeFields = (fields: readonly FieldError[], request: Record<string, unknown>): string =>
  fields.map((f) => describeField(f, request)).join('; ');

/** The same shape check the command makes, done first so a malformed value is a usage error (exit 2). */
async function checkShape(schema: StandardSchemaV1, request: Record<string, unknown>, what: string): Promise<void> {
  const checked = await validateWith(schema, request);
  if (!checked.ok) throw new UsageError(`${what}: ${describeFields(checked.issues, request)}`);
}

function parseStrict(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // node:util's first sentence names the option and what is wrong with it; the rest is a hint about `--`.
    const first = (err as Error).message.split('\n')[0]!.split('. ')[0]!.replace(/\.$/, '');
    throw new UsageError(`tokens: ${first}`);
  }
}

/**
 * `argv` from `tokens` on (options may come anywhere). Throws UsageError for anything the
 * commands could not act on: unknown or misplaced options, missing or malformed values.
 */
export async function parseTokensArgs(argv: readonly string[]): Promise<TokensInvocation> {
  const { values, positionals } = parseStrict(argv);
  const [, action, ...rest] = positionals;
  const config = values.config;
  if (values.help) return { ...(config !== undefined ? { config } : {}) };
  if (action === undefined) throw new UsageError('tokens: name an action: create, list or revoke (portcullis tokens --help)');
  if (!Object.hasOwn(ACTIONS, action)) throw new UsageError(`tokens: unknown action ${JSON.stringify(action)}: create, list or revoke`);
  const allowed = ACTIONS[action as Action];
  const misplaced = (Object.keys(values) as Option[]).find((o) => !EVERYWHERE.includes(o) && !allowed.includes(o));
  if (misplaced) throw new UsageError(`tokens ${action}: --${misplaced} is not an option of \`tokens ${action}\``);
  const json = values.json === true;
  const invocation = (command: TokensCommand): TokensInvocation => ({ ...(config !== undefined ? { config } : {}), command });

  if (action === 'create') {
    if (rest.length) throw new UsageError(`tokens create: unexpected argument ${JSON.stringify(rest[0])}`);
    for (const required of ['owner', 'name'] as const) {
      if (values[required] === undefined) throw new UsageError(`tokens create: --${required} is required`);
    }
    const days = values['expires-in-days'];
    if (days !== undefined && values.never) throw new UsageError('tokens create: --expires-in-days and --never exclude each other');
    if (days !== undefined && !/^\d{1,9}$/.test(days)) throw new UsageError('tokens create: --expires-in-days must be a whole number of days');
    const request: Record<string, unknown> = {
      owner: values.owner,
      name: values.name,
      kind: values.service ? 'service' : 'user',
      groups: values.group ?? [],
      readOnly: values['read-only'] === true,
      pathPrefixes: values['path-prefix'] ?? [],
      ipAllow: values.ip ?? [],
      ...(values.never ? { expiresInDays: null } : days !== undefined ? { expiresInDays: Number(days) } : {}),
    };
    await checkShape(adminTokenRequest, request, 'tokens create');
    return invocation({ action: 'create', request, json });
  }
  if (action === 'list') {
    if (rest.length) throw new UsageError(`tokens list: unexpected argument ${JSON.stringify(rest[0])}`);
    const state = values.state;
    if (state !== undefined && !(TOKEN_STATES as readonly string[]).includes(state)) {
      throw new UsageError(`tokens list: --state must be one of: ${TOKEN_STATES.join(', ')}`);
    }
    return invocation({ action: 'list', ...(values.owner !== undefined ? { owner: values.owner } : {}), ...(state !== undefined ? { state: state as TokenState } : {}), json });
  }
  // revoke: one id, or every active token of --owner
  const reason = values.reason;
  if (reason !== undefined) await checkShape(revocationRequest, { reason }, 'tokens revoke');
  const why = reason !== undefined ? { reason } : {};
  if (values.owner !== undefined) {
    if (rest.length) throw new UsageError('tokens revoke: give a token id or --owner, not both');
    return invocation({ action: 'revoke-owner', owner: values.owner, ...why, json });
  }
  if (rest.length !== 1) throw new UsageError('tokens revoke: give one token id, or --owner <name> (portcullis tokens revoke <id> [--reason text])');
  return invocation({ action: 'revoke', id: rest[0]!, ...why, json });
}

const CONTEXT: CommandContext = { actor: TOKENS_ACTOR };

/** Catch up, do `work`, stop following. */
async function following<S, T>(projection: Projection<S>, work: () => Promise<T>): Promise<T> {
  await projection.start();
  try {
    return await work();
  } finally {
    await projection.stop();
  }
}

/**
 * Run one token command. Returns the exit code: 0, or 1 when the command refused (unknown id,
 * token policy, a store that cannot write), with the reason on one line of stderr.
 */
export async function runTokens(config: ProcessConfig, command: TokensCommand, output: Output = processOutput, clock: Clock = systemClock): Promise<number> {
  const logger = stderrLogger(config.logLevel === 'debug' ? 'debug' : 'error');
  // Listing changes nothing, and must not create a store where a mistyped path points.
  const readonly = command.action === 'list';
  const store = await openEventStore(config.store, { readonly });
  // The projections resume from the gateway's checkpoints but never write one: a one-shot command
  // would only pay for serialising a large index, and could put back an older position.
  try {
    if (command.action === 'list') {
      const tokens = tokenIndexProjection(store, { logger, saveCheckpoints: false });
      const usage = tokenUsageProjection(store, { logger, saveCheckpoints: false });
      return await following(tokens, () =>
        following(usage, async () => {
          const records = command.owner !== undefined ? tokens.state.ofOwner(command.owner) : tokens.state.all();
          const views = listTokens(records, usage.state, clock.now(), command.state);
          output.out(command.json ? `${JSON.stringify({ tokens: views }, null, 2)}\n` : formatTokenTable(views));
          return 0;
        }),
      );
    }
    const tokens = tokenIndexProjection(store, { logger, saveCheckpoints: false });
    return await following(tokens, () => change(store, tokens, command, output, clock));
  } catch (err) {
    if (err instanceof GatewayError) {
      const detail = err instanceof ValidationError && err.fields.length ? `: ${describeFields(err.fields, command.action === 'create' ? command.request : {})}` : '';
      output.err(`portcullis: ${err.message}${detail}\n`);
      return 1;
    }
    throw err;
  } finally {
    await store.close();
  }
}

async function change(
  store: EventStore,
  tokens: Projection<TokenIndex>,
  command: Exclude<TokensCommand, { action: 'list' }>,
  output: Output,
  clock: Clock,
): Promise<number> {
  // The token policy as `serve` folds it from the settings stream, at this moment.
  const settings = (await readConfigState(store)).settings;
  const commands = new TokenCommands(store, tokens, () => settings.tokens, clock);
  const noUsage = new TokenUsageIndex();
  const view = (id: string) => tokenView(tokens.state.get(id)!, noUsage, clock.now());
  const json = (value: unknown) => output.out(`${JSON.stringify(value, null, 2)}\n`);
  const describe = (id: string) => {
    const r = tokens.state.get(id)!;
    return `${id} (${r.owner}, ${JSON.stringify(r.name)})`;
  };

  switch (command.action) {
    case 'create': {
      const { record, token } = await commands.issue(command.request, CONTEXT);
      if (command.json) {
        json({ ...view(record.id), token });
        return 0;
      }
      output.out(`${token}\n`);
      const expires = record.expiresAt === null ? 'never expires' : `expires ${new Date(record.expiresAt).toISOString()}`;
      output.err(`issued ${describe(record.id)}, ${record.kind}, ${expires}; the token above is shown only this once\n`);
      return 0;
    }
    case 'revoke': {
      const before = tokens.state.get(command.id);
      await commands.revoke(command.id, command.reason, CONTEXT);
      if (command.json) json(view(command.id));
      else if (before?.revokedAt !== undefined) {
        output.out(`${describe(command.id)} was already revoked (${new Date(before.revokedAt).toISOString()}, by ${before.revokedBy ?? 'unknown'})\n`);
      } else output.out(`revoked ${describe(command.id)}\n`);
      return 0;
    }
    case 'revoke-owner': {
      const now = clock.now();
      const targets = tokens.state.ofOwner(command.owner).filter((r) => isUsable(r, now)).map((r) => r.id);
      await commands.revokeAllOf(command.owner, command.reason, CONTEXT);
      const revoked = targets.filter((id) => tokens.state.get(id)?.revokedAt !== undefined);
      if (command.json) {
        json({ owner: command.owner, revoked: revoked.length, tokens: revoked.map(view) });
        return 0;
      }
      for (const id of revoked) output.out(`revoked ${describe(id)}\n`);
      output.out(revoked.length ? `${revoked.length} token${revoked.length === 1 ? '' : 's'} of ${command.owner} revoked\n` : `${command.owner} has no active tokens: nothing revoked\n`);
      return 0;
    }
  }
}
