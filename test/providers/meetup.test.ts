// Tests for the `meetup` provider: GraphQL `self` query, refusals, failures and the cache.
import { expect } from 'chai';
import nock from 'nock';
import meetupPlugin, { type MeetupConfig } from '../../providers/meetup/index.js';
import { basic, bearer, configOf, expectFailure, harness, HUGE, identityOf, issuesOf, JSON_HEADERS, type Harness } from './opaque-kit.js';

const MEETUP = 'https://api.meetup.com';
const PATH = '/gql-ext';
const TOKEN = '9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d';
const SELF = { id: '1234', name: 'Cool Developer', email: 'cool@example.com' };
const unavailable = 'the identity provider cannot be reached';

async function make(h: Harness, extra: Partial<Record<keyof MeetupConfig, unknown>> = {}) {
  return meetupPlugin.create(await configOf(meetupPlugin, extra), h.deps);
}

const serve = (status: number, body: unknown, query = 'query { self { id name email } }') =>
  nock(MEETUP).post(PATH, { query }).matchHeader('authorization', `Bearer ${TOKEN}`).reply(status, body as nock.Body, JSON_HEADERS);

describe('meetup provider', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness('meetup');
  });

  it('validates its configuration', async () => {
    expect(await issuesOf(meetupPlugin, {})).to.deep.equal([]);
    expect(await issuesOf(meetupPlugin, { graphqlEndpoint: 'http://api.meetup.com/gql', query: '{ events { title } }' })).to.deep.equal(['graphqlEndpoint', 'query']);
    expect(meetupPlugin.secretFields).to.deep.equal(['clientSecret']);
  });

  it('maps data.self with the defaults (name as username)', async () => {
    serve(200, { data: { self: SELF } });
    const identity = identityOf(await (await make(h)).authenticate(bearer(TOKEN)));
    expect(identity).to.deep.equal({
      subject: '1234', username: 'Cool Developer', email: 'cool@example.com', groups: [], scopes: [], provider: 'meetup', claims: { id: '1234' },
    });
  });

  it('takes a numeric id, a custom query, endpoint and attribute paths', async () => {
    const query = 'query { self { id name email city memberships { edges { node { urlname } } } } }';
    nock(MEETUP).post('/gql', { query }).reply(200, { data: { self: { id: 1234, name: 'Cool Developer', city: 'Berlin' } } }, JSON_HEADERS);
    const provider = await make(h, { graphqlEndpoint: `${MEETUP}/gql`, query, usernameClaim: ['email', 'name'], groupsClaim: 'city' });
    const identity = identityOf(await provider.authenticate(bearer(TOKEN)));
    expect(identity).to.include({ subject: '1234', username: 'Cool Developer' });
    expect(identity.groups).to.deep.equal(['Berlin']);
  });

  it('refuses a token Meetup does not accept (HTTP 401)', async () => {
    serve(401, { errors: [{ message: 'Invalid or expired token' }] });
    expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by the identity provider');
  });

  it('refuses a token when GraphQL answers UNAUTHENTICATED with HTTP 200', async () => {
    serve(200, { data: { self: null }, errors: [{ message: 'Not authenticated', extensions: { code: 'UNAUTHENTICATED' } }] });
    expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by Meetup');
  });

  it('is not responsible for Basic credentials', async () => {
    expect(await (await make(h)).authenticate(basic('u', TOKEN))).to.deep.equal({ outcome: 'not_responsible' });
  });

  describe('provider trouble', () => {
    it('GraphQL errors without data', async () => {
      serve(200, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('5xx', async () => {
      serve(502, { message: 'Bad gateway' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('slower than timeoutMs', async () => {
      nock(MEETUP).post(PATH).delay(300).reply(200, { data: { self: SELF } }, JSON_HEADERS);
      expectFailure(await (await make(h, { timeoutMs: 50 })).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('malformed JSON', async () => {
      serve(200, '{"data":');
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('oversized answer', async () => {
      serve(200, { data: { self: SELF }, ...HUGE });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
  });

  describe('cache', () => {
    it('a hit makes no call', async () => {
      serve(200, { data: { self: SELF } });
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      identityOf(await provider.authenticate(bearer(TOKEN)));
      expect(h.cache.hits).to.equal(1);
    });
    it('a revoked token stops working once the TTL passes', async () => {
      serve(200, { data: { self: SELF } });
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      serve(401, { errors: [{ message: 'Invalid or expired token' }] });
      h.clock.advance(60_001);
      expectFailure(await provider.authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by the identity provider');
    });
    it('concurrent identical tokens make one call', async () => {
      nock(MEETUP).post(PATH).delay(20).reply(200, { data: { self: SELF } }, JSON_HEADERS);
      const provider = await make(h);
      const results = await Promise.all([1, 2, 3].map(() => provider.authenticate(bearer(TOKEN))));
      expect(results.every((r) => r.outcome === 'identity')).to.equal(true);
      expect(h.cache.misses).to.equal(1);
    });
  });

  it('inspect returns data.self; oauthClient names the Meetup endpoints', async () => {
    serve(200, { data: { self: SELF } });
    expect(await (await make(h)).inspect!(TOKEN)).to.deep.equal(SELF);
    expect(await (await make(h)).oauthClient!()).to.equal(undefined);
    expect(await (await make(h, { clientId: 'key', clientSecret: 'secret' })).oauthClient!()).to.deep.equal({
      authorizationEndpoint: 'https://secure.meetup.com/oauth2/authorize',
      tokenEndpoint: 'https://secure.meetup.com/oauth2/access',
      clientId: 'key',
      clientSecret: 'secret',
      clientAuth: 'body',
    });
  });
});
