// The assertion key file: created once with mode 0600, rotated with publication before use and retirement after the last assertion, refused when it is not what it should be.
import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { silentLogger } from '../../core/logger.js';
import { AssertionKeyError, loadAssertionKeys, readAssertionKeys, rotateAssertionKeys } from '../../server/assertion-keys.js';

const T0 = Date.UTC(2026, 0, 1);

describe('server/assertion-keys: the key file', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-akeys-'));
    file = join(dir, 'keys', 'assertion-keys.json');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is created on first load with one Ed25519 key, readable by its owner only, and read back the same afterwards', async () => {
    const first = await loadAssertionKeys(file, T0, silentLogger);
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    expect(first.keys).to.have.length(1);
    expect(first.signingKey(T0)?.kid).to.equal(first.keys[0]!.kid);
    const again = await loadAssertionKeys(file, T0 + 1000, silentLogger);
    expect(again.keys.map((k) => k.kid)).to.deep.equal(first.keys.map((k) => k.kid));
  });

  it('rotation publishes the new key before it signs, and keeps the old one published until its last assertion expired', async () => {
    const old = (await loadAssertionKeys(file, T0, silentLogger)).keys[0]!.kid;
    const rotation = await rotateAssertionKeys(file, T0 + 10_000, 120);
    expect(rotation.activeFrom).to.equal(new Date(T0 + 130_000).toISOString());
    expect(rotation.retiring).to.deep.equal([{ kid: old, retireAt: new Date(T0 + 130_000 + 90_000).toISOString() }]);
    const keys = await readAssertionKeys(file);
    const kids = (now: number) => keys.published(now).map((k) => k.kid);
    expect(kids(T0 + 10_000)).to.deep.equal([old, rotation.kid]);
    expect(keys.signingKey(T0 + 129_999)?.kid).to.equal(old);
    expect(keys.signingKey(T0 + 130_000)?.kid).to.equal(rotation.kid);
    expect(kids(T0 + 219_999)).to.deep.equal([old, rotation.kid]);
    expect(kids(T0 + 220_000)).to.deep.equal([rotation.kid]);
    // The next rotation takes the retired key out of the file.
    const next = await rotateAssertionKeys(file, T0 + 300_000, 0);
    expect(next.removed).to.deep.equal([old]);
    expect(next.retiring.map((r) => r.kid)).to.deep.equal([rotation.kid]);
    expect((await readAssertionKeys(file)).keys.map((k) => k.kid)).to.deep.equal([rotation.kid, next.kid]);
  });

  it('refuses a file that is not JSON, not the format, or holds no Ed25519 key, never quoting it', async () => {
    await loadAssertionKeys(file, T0, silentLogger);
    const valid = JSON.parse(await readFile(file, 'utf8')) as { keys: { privateKey: string }[] };
    const cases: [string, RegExp][] = [
      ['not json -----BEGIN PRIVATE KEY-----', /is not JSON/],
      [JSON.stringify({ keys: [] }), /keys: /],
      [JSON.stringify({ keys: [{ ...valid.keys[0], privateKey: 'secret-material' }] }), /is not a private key in PEM/],
    ];
    for (const [text, message] of cases) {
      await writeFile(file, text);
      const err = await readAssertionKeys(file).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(AssertionKeyError);
      expect((err as AssertionKeyError).code).to.equal('assertion_keys_invalid');
      expect((err as Error).message).to.match(message).and.not.contain('secret-material').and.not.contain('BEGIN');
    }
  });
});
