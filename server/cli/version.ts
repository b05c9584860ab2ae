// The version `portcullis --version` prints: package.json's, read once and only when asked.
import { readFileSync } from 'node:fs';

let version: string | undefined;

/** The `version` of the package this file was built from (dist/server/ → the package root). */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
