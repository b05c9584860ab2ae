// Raw RS256 verification rates on this machine (a child process of the bench): jose sequential, then 32 in flight,
// and node:crypto's synchronous verify of the same tokens (what row 2v does): the gap is what jose's WebCrypto path costs.
import { readFileSync } from 'node:fs';
import { createPublicKey, verify } from 'node:crypto';
import { jwtVerify } from 'jose';

const [tokensFile, jwkJson, secondsArg] = process.argv.slice(2);
const tokens = readFileSync(tokensFile ?? '', 'utf8').split('\n').filter(Boolean);
const key = createPublicKey({ key: JSON.parse(jwkJson ?? '{}') as import('node:crypto').JsonWebKey, format: 'jwk' });
const seconds = Number(secondsArg ?? 2);
const options = { algorithms: ['RS256'] };

async function sequential(): Promise<number> {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) await jwtVerify(tokens[n++ % tokens.length]!, key, options);
  return n / seconds;
}

async function inFlight(width: number): Promise<number> {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const lane = async () => {
    while (performance.now() < end) await jwtVerify(tokens[n++ % tokens.length]!, key, options);
  };
  await Promise.all(Array.from({ length: width }, lane));
  return n / seconds;
}

/** The signature alone, with node:crypto: no header or claims parsing, no promise. */
function nodeCrypto(): number {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const token = tokens[n++ % tokens.length]!;
    const dot = token.lastIndexOf('.');
    if (!verify('RSA-SHA256', Buffer.from(token.slice(0, dot)), key, Buffer.from(token.slice(dot + 1), 'base64url'))) throw new Error('a bench token did not verify');
  }
  return n / seconds;
}

await sequential(); // warm-up (JIT, key import)
const seq = await sequential();
const par = await inFlight(32);
nodeCrypto();
const direct = nodeCrypto();
process.stdout.write(`${JSON.stringify({ sequential: Math.round(seq), inFlight32: Math.round(par), nodeCrypto: Math.round(direct) })}\n`);
