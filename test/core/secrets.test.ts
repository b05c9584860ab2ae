// Provider secrets: sealed before they reach an event, masked in answers, kept when the mask is sent back.
import { expect } from 'chai';
import { systemClock } from '../../core/clock.js';
import { ValidationError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import type { ProviderPlugin } from '../../core/provider.js';
import { Runtime } from '../../server/runtime/runtime.js';
import { MASK, SecretBox, SecretKeyError, maskSecretFields } from '../../core/secrets.js';
import { MemoryEventStore } from '../../core/store/memory.js';
import { z } from 'zod';

const box = SecretBox.fromEncodedKey(SecretBox.generateEncodedKey());

const seen: unknown[] = [];
const secretive: ProviderPlugin<{ clientId: string; clientSecret: string; nested?: { appToken?: string } }> = {
  kind: 'secretive',
  description: 'test kind with secrets',
  configSchema: z.object({ clientId: z.string(), clientSecret: z.string().min(8), nested: z.object({ appToken: z.string() }).partial().optional() }).strict(),
  secretFields: ['clientSecret', 'nested.appToken'],
  create: (config, deps) => {
    seen.push(config);
    return { id: deps.id, kind: 'secretive', status: () => ({ ready: true }), authenticate: async () => ({ outcome: 'not_responsible' }) };
  },
};
const plugins = { get: (k: string) => (k === 'secretive' ? (secretive as ProviderPlugin) : undefined), kinds: () => ['secretive'] };
const ctx = { actor: 'admin' };

describe('core/secrets', () => {
  it('seals with a fresh IV each time and opens only under the same key', () => {
    const a = box.seal('s3cret');
    const b = box.seal('s3cret');
    expect(a).to.match(/^enc:v1:/).and.not.equal(b);
    expect(box.open(a)).to.equal('s3cret');
    const other = SecretBox.fromEncodedKey(SecretBox.generateEncodedKey());
    expect(() => other.open(a)).to.throw(SecretKeyError);
    expect(() => box.open(`${a.slice(0, -2)}AA`)).to.throw(SecretKeyError);
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => SecretBox.fromEncodedKey('c2hvcnQ=')).to.throw(SecretKeyError, /32 random bytes/);
  });

  it('masks and seals only the declared paths', () => {
    const cfg = { clientId: 'id', clientSecret: 'x', nested: { appToken: 'y', other: 'z' } };
    expect(maskSecretFields(cfg, ['clientSecret', 'nested.appToken', 'missing.path'])).to.deep.equal({
      clientId: 'id', clientSecret: MASK, nested: { appToken: MASK, other: 'z' },
    });
    const sealed = box.sealFields(cfg, ['clientSecret']);
    expect(sealed.clientSecret).to.match(/^enc:v1:/);
    expect(box.openFields(sealed, ['clientSecret'])).to.deep.equal(cfg);
  });

  describe('through the provider commands', () => {
    let store: MemoryEventStore;
    let runtime: Runtime;
    beforeEach(async () => {
      seen.length = 0;
      store = new MemoryEventStore();
      runtime = await Runtime.start({ store, plugins, fetch: globalThis.fetch, clock: systemClock, logger: silentLogger, secrets: box });
    });
    afterEach(() => runtime.close());

    it('never writes a secret in clear, and the provider receives it decrypted', async () => {
      await runtime.commands.configureProvider('s1', { kind: 'secretive', config: { clientId: 'app', clientSecret: 'top-secret-1', nested: { appToken: 'tok-secret-2' } } }, undefined, ctx);
      await runtime.whenCompiled();
      const text = JSON.stringify(await store.readAll());
      expect(text).to.not.include('top-secret-1');
      expect(text).to.not.include('tok-secret-2');
      expect(seen.at(-1)).to.deep.equal({ clientId: 'app', clientSecret: 'top-secret-1', nested: { appToken: 'tok-secret-2' } });
    });

    it('keeps the stored secret when the mask comes back, and appends nothing if nothing else changed', async () => {
      const body = { kind: 'secretive', config: { clientId: 'app', clientSecret: 'top-secret-1' } };
      await runtime.commands.configureProvider('s1', body, undefined, ctx);
      const again = await runtime.commands.configureProvider('s1', { ...body, config: { clientId: 'app', clientSecret: MASK } }, undefined, ctx);
      expect(again.revision).to.equal(1);
      await runtime.commands.configureProvider('s1', { ...body, config: { clientId: 'app2', clientSecret: MASK } }, undefined, ctx);
      await runtime.whenCompiled();
      expect(seen.at(-1)).to.deep.equal({ clientId: 'app2', clientSecret: 'top-secret-1' });
    });

    it('refuses the mask when there is nothing stored, and a sealed value pasted in', async () => {
      const masked = await runtime.commands
        .configureProvider('s2', { kind: 'secretive', config: { clientId: 'a', clientSecret: MASK } }, undefined, ctx)
        .catch((e: unknown) => e);
      expect(masked).to.be.instanceOf(ValidationError);
      expect((masked as ValidationError).fields.map((f) => f.path)).to.deep.equal(['config.clientSecret']);
      const pasted = await runtime.commands
        .configureProvider('s2', { kind: 'secretive', config: { clientId: 'a', clientSecret: box.seal('zzzzzzzzz') } }, undefined, ctx)
        .catch((e: unknown) => e);
      expect(pasted).to.be.instanceOf(ValidationError);
    });
  });
});
