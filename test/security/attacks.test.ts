// The attack suite: every corpus entry is sent over a real socket to the gateway (or admin) listener and must get its
// expected status and error code, leave an AccessDecided event, echo no secret, and leave the gateway serving.
import { expect } from 'chai';

import { adminApi, adminViaGateway } from './corpus/admin.js';
import { apiKeyHeader } from './corpus/api-key-header.js';
import { authorizationHeaders } from './corpus/authorization.js';
import { credentialsElsewhere } from './corpus/credentials-elsewhere.js';
import { deepJson } from './corpus/deep-json.js';
import { forwardAuth, forwardAuthEnvoy, forwardAuthOriginal, forwardAuthReadOnly } from './corpus/forward-auth.js';
import { forwardedHostTrusted, forwardedHostUntrusted, forwardedRealIp, forwardedTrusted, forwardedUntrusted } from './corpus/forwarded.js';
import { headerFlood, headerFloodControls } from './corpus/header-flood.js';
import { identityEncoding, identityEncodingControls } from './corpus/identity-encoding.js';
import { jwtAttacks, jwtControls } from './corpus/jwt.js';
import { masterSwitchOff } from './corpus/master-switch-off.js';
import { methodOverride, methodOverrideAnonymous, methodOverrideAnonymousControls, methodOverrideControls } from './corpus/method-override.js';
import { pathAttacks } from './corpus/paths.js';
import { reservedSpellings, reservedSpellingsControls } from './corpus/reserved-spellings.js';
import { smuggling } from './corpus/smuggling.js';
import type { AttackCategory } from './corpus/types.js';
import { BASE_SETTINGS, Harness } from './harness.js';

/** The attack corpus, by category (controls are not attacks and are not counted). */
export const ATTACKS: readonly AttackCategory[] = [
  authorizationHeaders,
  jwtAttacks,
  pathAttacks,
  forwardedUntrusted,
  forwardedTrusted,
  forwardedRealIp,
  forwardedHostTrusted,
  forwardedHostUntrusted,
  smuggling,
  forwardAuth,
  forwardAuthReadOnly,
  forwardAuthOriginal,
  forwardAuthEnvoy,
  credentialsElsewhere,
  adminApi,
  adminViaGateway,
  reservedSpellings,
  headerFlood,
  identityEncoding,
  methodOverride,
  methodOverrideAnonymous,
  masterSwitchOff,
  deepJson,
  apiKeyHeader,
];
const CONTROLS: readonly AttackCategory[] = [jwtControls, reservedSpellingsControls, headerFloodControls, identityEncodingControls, methodOverrideControls, methodOverrideAnonymousControls];

describe('security: attack suite', function () {
  this.timeout(20_000);
  const harness = new Harness();

  before(() => harness.start());
  after(() => harness.stop());

  it(`holds at least 300 bad inputs (${ATTACKS.map((c) => `${c.name}: ${c.cases.length}`).join('; ')})`, () => {
    const total = ATTACKS.reduce((n, c) => n + c.cases.length, 0);
    expect(total).to.be.at.least(300);
    const names = ATTACKS.flatMap((c) => c.cases.map((k) => `${c.name} / ${k.name}`));
    expect(new Set(names).size, 'case names are unique').to.equal(names.length);
  });

  for (const category of [...CONTROLS, ...ATTACKS]) {
    describe(`${category.name} (${category.cases.length})`, () => {
      before(async () => {
        if (category.settings) await harness.resetSettings(category.settings);
      });
      after(async () => {
        if (category.settings) await harness.resetSettings(BASE_SETTINGS);
      });
      for (const c of category.cases) {
        const status = c.expect.error === 'parser' ? `${c.expect.status} from the HTTP parser` : `${c.expect.status} ${c.expect.error}`;
        it(`${c.name} → ${status}`, () => harness.run(c));
      }
    });
  }

  describe('after the corpus', () => {
    it('never fetched a key from a URL a token named (jku, x5u, kid): the attacker’s listener saw no request', () => {
      expect(harness.attackerHits).to.deep.equal([]);
      // Discovery is asked for by the admin fetch-token helper only; a kid never becomes a path.
      const asked = [...new Set(harness.jwksHits)].filter((p) => p !== '/jwks' && p !== '/.well-known/openid-configuration');
      expect(asked, 'the issuer is only asked for its key set and discovery document').to.deep.equal([]);
    });

    it('saw no uncaught exception and no unhandled rejection', () => {
      expect(harness.unexpected.map(String)).to.deep.equal([]);
    });

    it('stored no secret in clear: not the tokens presented, the admin token nor the client secret', async () => {
      for (const event of await harness.store.readAll()) {
        const text = JSON.stringify(event);
        for (const secret of harness.secrets()) {
          expect(text.includes(secret), `${secret.slice(0, 10)}… in event ${event.type} of ${event.stream}: ${text.slice(0, 600)}`).to.equal(false);
        }
      }
    });

    it('keeps credentials out of the audited path of a refused request (fragment, path parameters)', async () => {
      await harness.runtime.audit.flush();
      const leaked = (await harness.store.readAll({ streamPrefixes: ['access-'] }))
        .map((e) => (e.data as { path: string }).path)
        .filter((path) => harness.secrets().some((s) => path.includes(s)));
      expect(leaked.map((p) => `${p.slice(0, 40)}…`)).to.deep.equal([]);
    });

    it('answers the admin API with the right token, and masks the client secret there', async () => {
      const res = await fetch(`${harness.admin.url}/api/v1/providers`, { headers: { authorization: `Bearer ${harness.placeholders().ADMIN}` } });
      expect(res.status).to.equal(200);
      const text = await res.text();
      expect(text).to.include('idp');
      expect(text.includes(harness.placeholders().CLIENT_SECRET!)).to.equal(false);
    });
  });
});
