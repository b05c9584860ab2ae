// The candidate of `portcullis simulate`: the file `apply` reads (its `settings` section), or a bare settings document.
import { parse as parseYaml } from 'yaml';
import { isJsonObject } from '../../core/settings/merge-patch.js';
import { settingsSchema, type Settings } from '../../core/settings/schema.js';
import { validateWith } from '../../core/validate.js';
import { ConfigAsCodeError, parseConfigFile } from './config-file.js';

/**
 * A document with a top-level `settings` or `providers` key is a configuration-as-code file
 * (`${ENV}` references resolved, providers ignored: the simulation replays recorded identities);
 * any other document is the settings themselves. Keys left out take their defaults, as with `apply`.
 *
 * @throws ConfigAsCodeError naming each problem by its path
 */
export async function parseCandidate(text: string, env: NodeJS.ProcessEnv): Promise<Settings> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    throw new ConfigAsCodeError('the file is not YAML');
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isJsonObject(doc)) throw new ConfigAsCodeError('the file is not a settings document');
  const document = 'settings' in doc || 'providers' in doc ? ((await parseConfigFile(text, env)).settings ?? {}) : doc;
  const checked = await validateWith(settingsSchema, document);
  if (!checked.ok) throw new ConfigAsCodeError('the settings are not valid', checked.issues);
  return checked.value;
}
