// The attack suite: every corpus entry is sent over a real socket to the gateway (or admin) listener and must get its
// expected status and error code, leave one recorded decision, echo no secret, and leave the gateway serving.
import { expect } from 'chai';

import { adminApi, adminReadViews, adminViaGateway } from './corpus/admin.js';
import { apiKeyHeader } from './corpus/api-key-header.js';
import { audienceLists } from './corpus/audience-list.js';
import { authorizationHeaders } from './corpus/authorization.js';
import { credentialsElsewhere } from './corpus/credentials-elsewhere.js';
import { decisionLog } from './corpus/decision-log.js';
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
import { BASE_SETTINGS, Harness, ROTATING_JWKS } from './harness.js';
import { rawExchange } from './raw.js';
import { decisionEntries } from '../server/fixtures.js';

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
  adminReadViews,
  adminViaGateway,
  reservedSpellings,
  headerFlood,
  identityEncoding,
  methodOverride,
  methodOverrideAnonymous,
  masterSwitchOff,
  deepJson,
  decisionLog,
  apiKeyHeader,
  audienceLists,
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

  describe('the unknown-kid refetch cooldown (provider `rotating`, 30 s)', () => {
    // A token whose kid the held key set lacks makes the provider fetch the key set again, at most
    // once per cooldown: a flood of forged kids costs the issuer one request per 30 s, and a key the
    // issuer rotated in is taken once the cooldown has passed.
    const fetches = () => harness.jwksHits.filter((p) => p === ROTATING_JWKS).length;
    const signedBy = (kid: string, sign: 'ours' | 'attacker') => ({ claims: { iss: '{{ISSUER}}/rotating' }, header: { kid }, sign }) as const;
    const refusedCase = (kid: string, sign: 'ours' | 'attacker' = 'attacker') => ({
      name: `unknown kid ${kid}`,
      request: { token: signedBy(kid, sign) },
      expect: { status: 401, error: 'invalid_token', description: 'signing key not found' },
    });
    const rotatedIn = { name: 'the rotated-in key k2', request: { token: signedBy('k2', 'attacker') }, expect: { status: 200, error: 'authenticated', upstreamHeaders: { 'x-portcullis-provider': 'rotating' } } };

    it('fetches nothing for unknown kids inside the cooldown, even when the issuer has rotated the key in', async () => {
      await harness.run({ name: 'the held key k1', request: { token: signedBy('k1', 'ours') }, expect: { status: 200, error: 'authenticated' } });
      const before = fetches();
      expect(before, 'the key set was fetched at start').to.be.at.least(1);
      harness.rotatingKeys.push({ ...harness.attackerJwk, kid: 'k2' });
      for (const kid of ['k2', 'x1', 'x2', 'k2']) await harness.run(refusedCase(kid));
      expect(fetches(), 'no fetch inside the cooldown').to.equal(before);
    });

    it('after the cooldown, one unknown kid refetches once: the rotated-in key passes, and the next unknown kids wait again', async () => {
      const before = fetches();
      harness.clock.advance(30_001);
      await harness.run(rotatedIn);
      expect(fetches(), 'one refetch').to.equal(before + 1);
      for (const kid of ['x3', 'x4', 'x5']) await harness.run(refusedCase(kid));
      await harness.run(rotatedIn);
      expect(fetches(), 'no second refetch inside the new cooldown').to.equal(before + 1);
    });

    it('after another cooldown, twenty concurrent unknown kids share one refetch', async () => {
      const before = fetches();
      harness.clock.advance(30_001);
      // Sent at once (harness.run checks one exchange at a time), then judged one by one.
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => rawExchange(harness.gateway.port, harness.wireOf(refusedCase(`y${i}`)).text)));
      for (const answer of answers) {
        expect(answer.responses[0]?.status).to.equal(401);
        expect(JSON.parse(answer.responses[0]!.body)).to.include({ error: 'invalid_token', error_description: 'signing key not found' });
      }
      expect(fetches(), 'one shared refetch').to.equal(before + 1);
    });
  });

  describe('after the corpus', () => {
    it('never fetched a key from a URL a token named (jku, x5u, kid): the attacker’s listener saw no request', () => {
      expect(harness.attackerHits).to.deep.equal([]);
      // Discovery is asked for by the admin fetch-token helper only; a kid never becomes a path.
      const asked = [...new Set(harness.jwksHits)].filter((p) => p !== '/jwks' && p !== ROTATING_JWKS && p !== '/.well-known/openid-configuration');
      expect(asked, 'the issuer is only asked for its key set and discovery document').to.deep.equal([]);
    });

    it('saw no uncaught exception and no unhandled rejection', () => {
      expect(harness.unexpected.map(String)).to.deep.equal([]);
    });

    it('stored no secret in clear: not the tokens presented, the admin token nor the client secret, in no event and no decision', async () => {
      await harness.runtime.audit.flush();
      const decisions = await decisionEntries(harness.store);
      expect(decisions.length, 'decisions recorded').to.be.greaterThan(0);
      for (const event of [...(await harness.store.readAll()), ...decisions]) {
        const text = JSON.stringify(event);
        for (const secret of harness.secrets()) {
          expect(text.includes(secret), `${secret.slice(0, 10)}… in ${event.type} of ${event.stream}: ${text.slice(0, 600)}`).to.equal(false);
        }
      }
    });

    it('keeps credentials out of the audited path of a refused request (fragment, path parameters)', async () => {
      await harness.runtime.audit.flush();
      const leaked = (await decisionEntries(harness.store))
        .map((e) => e.data.path)
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
