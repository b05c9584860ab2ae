// `portcullis assertion-keys rotate`: a new key that signs identity assertions, published before it signs, the old one kept until its last assertion has expired.
import { systemClock } from '../../core/clock.js';
import { ASSERTION_KEYS_STREAM, type AssertionKeyRotated } from '../../core/events.js';
import { timeOrderedId } from '../../core/ids.js';
import { openEventStore } from '../../core/store/open.js';
import { assertionKeysFile, DEFAULT_ACTIVATE_IN_SECONDS, JWKS_MAX_AGE_SECONDS, rotateAssertionKeys, type Rotation } from '../assertion-keys.js';
import { loadProcessConfig, type ProcessConfig } from '../config.js';
import type { CommandSpec } from './command-line.js';
import type { Output } from './output.js';
import { UsageError } from './usage-error.js';

/** The actor recorded in the metadata of the rotation event. */
export const ROTATE_ACTOR = 'cli:assertion-keys';

/**
 * Add the new key to the key file, then record the rotation: every gateway following the store reads
 * the file again and publishes the new key at once; it signs from `activeFrom`.
 */
export async function runRotate(config: ProcessConfig, options: { activateInSeconds: number; json: boolean }, output: Output): Promise<number> {
  const file = assertionKeysFile(config.assertionKeys, config.store);
  const store = await openEventStore(config.store);
  let rotation: Rotation;
  try {
    rotation = await rotateAssertionKeys(file, systemClock.now(), options.activateInSeconds);
    const event: AssertionKeyRotated = { type: 'AssertionKeyRotated', data: { kid: rotation.kid, activeFrom: rotation.activeFrom, retiring: rotation.retiring } };
    await store.append(ASSERTION_KEYS_STREAM, [{ id: timeOrderedId(), type: event.type, data: event.data, metadata: { actor: ROTATE_ACTOR } }]);
  } finally {
    await store.close();
  }
  if (options.json) {
    output.out(`${JSON.stringify({ file, ...rotation }, null, 2)}\n`);
    return 0;
  }
  output.out(`new key ${rotation.kid}: published now, signs from ${rotation.activeFrom}\n`);
  for (const r of rotation.retiring) output.out(`key ${r.kid}: signs until then, published until ${r.retireAt}\n`);
  for (const kid of rotation.removed) output.out(`key ${kid}: retired, removed from ${file}\n`);
  output.out(`every worker and node must read this same file: ${file}\n`);
  return 0;
}

function activateIn(value: string | undefined): number {
  if (value === undefined) return DEFAULT_ACTIVATE_IN_SECONDS;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 86_400) throw new UsageError('--activate-in must be a whole number of seconds, at most 86400');
  return n;
}

export const ASSERTION_KEYS_ROTATE_COMMAND: CommandSpec = {
  words: ['assertion-keys', 'rotate'],
  summary: 'add a new key that signs identity assertions, and retire the current one',
  options: {
    'activate-in': {
      type: 'string',
      value: '<seconds>',
      help: `publish the new key now, sign with it after this many seconds (default ${DEFAULT_ACTIVATE_IN_SECONDS}; upstreams cache the key set up to ${JWKS_MAX_AGE_SECONDS})`,
    },
    json: { type: 'boolean', help: 'print the rotation as JSON' },
  },
  details:
    'Writes the key file (assertionKeys, default assertion-keys.json beside the store) and appends an AssertionKeyRotated event; running gateways read the file again. The old key stays published until its last assertion has expired. docs/upstream-verification.md',
  run: ({ values, config, output }) =>
    runRotate(loadProcessConfig(config), { activateInSeconds: activateIn(values['activate-in'] as string | undefined), json: values.json === true }, output),
};
