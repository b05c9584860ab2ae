// The commands of `portcullis`, in the order `portcullis --help` lists them: adding a command is adding its entry here.
import { AUDIT_EXPORT_COMMAND, AUDIT_QUERY_COMMAND, AUDIT_STATS_COMMAND } from './audit.js';
import { AUDIT_PRUNE_COMMAND } from './audit-prune.js';
import { CHECKPOINTS_COMMANDS } from './checkpoints.js';
import type { CommandLine, CommandSpec } from './command-line.js';
import { APPLY_COMMAND, EXPORT_COMMAND } from './config-as-code.js';
import { ASSERTION_KEYS_ROTATE_COMMAND } from './assertion-keys.js';
import { TEST_COMMAND } from './decision-tests.js';
import { REPLAY_COMMAND } from './replay.js';
import { SIMULATE_COMMAND } from './simulate.js';
import { SERVE_COMMAND } from './serve.js';
import { STORE_MIGRATE_COMMAND } from './store-migrate.js';
import { TOKENS_COMMANDS } from './tokens.js';
import { VERIFY_COMMAND } from './verify.js';
import { packageVersion } from './version.js';

export const COMMANDS: readonly CommandSpec[] = [
  SERVE_COMMAND, VERIFY_COMMAND, ...CHECKPOINTS_COMMANDS, STORE_MIGRATE_COMMAND, APPLY_COMMAND, TEST_COMMAND, EXPORT_COMMAND, ...TOKENS_COMMANDS, REPLAY_COMMAND,
  SIMULATE_COMMAND, AUDIT_QUERY_COMMAND, AUDIT_EXPORT_COMMAND, AUDIT_STATS_COMMAND, AUDIT_PRUNE_COMMAND, ASSERTION_KEYS_ROTATE_COMMAND,
];

export const PORTCULLIS: CommandLine = { table: COMMANDS, version: packageVersion };
