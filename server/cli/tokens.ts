// `portcullis tokens create|list|revoke`: gateway tokens against the store the process configuration names, through the same commands as the admin API.
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
import { readConfigState, stderrLogger } from './config-as-code.js';
import { processOutput, type Output } from './output.js';
import type { CommandInput, CommandSpec, OptionSpec } from './command-line.js';
import { loadProcessConfig, type ProcessConfig } from '../config.js';
import { formatTokenTable } from './token-table.js';
import { listTokens, tokenView } from '../token-view.js';
import { UsageError } from './usage-error.js';

/** The actor recorded in the metadata of the events these commands append (and as `createdBy` / `revokedBy`). */
export const TOKENS_ACTOR = 'cli';

export type TokensCommand =
  | { readonly action: 'create'; readonly request: Record<string, unknown>; readonly json: boolean }
  | { readonly action: 'list'; readonly owner?: string; readonly state?: TokenState; readonly json: boolean }
  | { readonly action: 'revoke'; readonly id: string; readonly reason?: string; readonly json: boolean }
  | { readonly action: 'revoke-owner'; readonly owner: string; readonly reason?: string; readonly json: boolean };

type Action = 'create' | 'list' | 'revoke';

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

type Values = CommandInput['values'];
const text = (values: Values, option: string): string | undefined => values[option] as string | undefined;
const list = (values: Values, option: string): readonly string[] => (values[option] as readonly string[] | undefined) ?? [];

/**
 * What `tokens <action>` asks for, from its checked options and arguments. Throws UsageError for
 * what the commands could not act on: options that exclude each other, malformed values.
 */
export async function tokensCommandOf(action: Action, { values, positionals }: Pick<CommandInput, 'values' | 'positionals'>): Promise<TokensCommand> {
  const json = values.json === true;
  if (action === 'create') {
    const days = text(values, 'expires-in-days');
    if (days !== undefined && values.never) throw new UsageError('tokens create: --expires-in-days and --never exclude each other');
    if (days !== undefined && !/^\d{1,9}$/.test(days)) throw new UsageError('tokens create: --expires-in-days must be a whole number of days');
    const request: Record<string, unknown> = {
      owner: values.owner,
      name: values.name,
      kind: values.service ? 'service' : 'user',
      groups: list(values, 'group'),
      readOnly: values['read-only'] === true,
      pathPrefixes: list(values, 'path-prefix'),
      ipAllow: list(values, 'ip'),
      ...(values.never ? { expiresInDays: null } : days !== undefined ? { expiresInDays: Number(days) } : {}),
    };
    await checkShape(adminTokenRequest, request, 'tokens create');
    return { action: 'create', request, json };
  }
  const owner = text(values, 'owner');
  if (action === 'list') {
    const state = text(values, 'state') as TokenState | undefined;
    return { action: 'list', ...(owner !== undefined ? { owner } : {}), ...(state !== undefined ? { state } : {}), json };
  }
  // revoke: one id, or every active token of --owner
  const reason = text(values, 'reason');
  if (reason !== undefined) await checkShape(revocationRequest, { reason }, 'tokens revoke');
  const why = reason !== undefined ? { reason } : {};
  if (owner !== undefined) {
    if (positionals.length) throw new UsageError('tokens revoke: give a token id or --owner, not both');
    return { action: 'revoke-owner', owner, ...why, json };
  }
  if (positionals.length !== 1) throw new UsageError('tokens revoke: give one token id, or --owner <name> (portcullis tokens revoke <id> [--reason text])');
  return { action: 'revoke', id: positionals[0]!, ...why, json };
}

const JSON_OPTION: OptionSpec = { type: 'boolean', help: "print JSON, in the admin API's shapes" };

const tokensCommand = (action: Action, spec: Omit<CommandSpec, 'words' | 'run'>): CommandSpec => ({
  words: ['tokens', action],
  ...spec,
  run: async (input) => {
    const command = await tokensCommandOf(action, input);
    return runTokens(loadProcessConfig(input.config), command, input.output);
  },
});

const EXIT_DETAILS = 'Exit 1: refused (an unknown id, the token policy) or failed, the reason on one line of stderr. docs/tokens.md';

export const TOKENS_COMMANDS: readonly CommandSpec[] = [
  tokensCommand('create', {
    summary: 'issue a gateway token: the secret is printed once, on stdout',
    options: {
      owner: { type: 'string', value: '<name>', required: true, help: 'the user (or service account) the token acts as' },
      name: { type: 'string', value: '<label>', required: true, help: 'what the token is for' },
      service: { type: 'boolean', help: "a service account's token (not counted by tokens.maxPerUser)" },
      group: { type: 'string', value: '<g>', multiple: true, help: 'a group of the token (repeat for several)' },
      'expires-in-days': { type: 'string', value: '<n>', help: 'lifetime (default tokens.defaultExpiryDays), or' },
      never: { type: 'boolean', help: 'a token that never expires (only when tokens.maxExpiryDays is false)' },
      'read-only': { type: 'boolean', help: 'GET, HEAD and OPTIONS only' },
      'path-prefix': { type: 'string', value: '</p>', multiple: true, help: 'only this path and below (repeat for several)' },
      ip: { type: 'string', value: '<cidr>', multiple: true, help: 'only from this address or CIDR (repeat for several)' },
      json: JSON_OPTION,
    },
    details: EXIT_DETAILS,
  }),
  tokensCommand('list', {
    summary: 'list tokens: id, owner, name, state, expiry, last use (never a secret)',
    options: {
      owner: { type: 'string', value: '<name>', help: "one owner's tokens" },
      state: { type: 'string', value: '<state>', choices: TOKEN_STATES, help: `tokens in this state only: ${TOKEN_STATES.join(', ')}` },
      json: JSON_OPTION,
    },
    details: 'Opens the store read-only. docs/tokens.md',
  }),
  tokensCommand('revoke', {
    args: ['[<id>]'],
    summary: 'revoke one token, or with --owner every active token of an owner',
    options: {
      owner: { type: 'string', value: '<name>', help: 'revoke every active token of this owner (instead of an id)' },
      reason: { type: 'string', value: '<text>', help: 'recorded with the revocation' },
      json: JSON_OPTION,
    },
    details: EXIT_DETAILS,
  }),
];

const CONTEXT: CommandContext = { actor: TOKENS_ACTOR };

/** Catch up, do `work`, stop following. */
async function following<S, T, L>(projection: Projection<S, L>, work: () => Promise<T>): Promise<T> {
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
