// An upstream that serves only requests the gateway signed for it (docs/upstream-verification.md).
// PORTCULLIS_JWKS_URL=http://gateway:8080/_portcullis/jwks.json PORTCULLIS_AUDIENCE=https://orders.internal node upstream-verify.mjs
import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const keys = createRemoteJWKSet(new URL(process.env.PORTCULLIS_JWKS_URL));
const expected = { issuer: process.env.PORTCULLIS_ISSUER ?? 'portcullis', audience: process.env.PORTCULLIS_AUDIENCE, algorithms: ['EdDSA'], maxTokenAge: 60 };

/** The caller the gateway vouches for, or undefined: no, forged, expired, or for another request. */
async function caller(req) {
  const assertion = req.headers['x-portcullis-assertion'];
  if (typeof assertion !== 'string') return undefined;
  const { payload } = await jwtVerify(assertion, keys, expected).catch(() => ({}));
  const path = new URL(req.url, 'http://upstream').pathname;
  return payload?.method === req.method && payload.path === path ? payload : undefined;
}

const server = createServer(async (req, res) => {
  const who = await caller(req);
  res.writeHead(who ? 200 : 401, { 'content-type': 'application/json' });
  res.end(JSON.stringify(who ? { user: who.username, groups: who.groups } : { error: 'not_signed_by_the_gateway' }));
});
server.listen(Number(process.env.PORT ?? 9000), '127.0.0.1', () => console.log(JSON.stringify({ ready: true, port: server.address().port })));
