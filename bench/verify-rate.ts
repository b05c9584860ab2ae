// Raw jose RS256 verification rate on this machine (a child process of the bench): sequential, then 32 in flight.
import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
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

await sequential(); // warm-up (JIT, key import)
const seq = await sequential();
const par = await inFlight(32);
process.stdout.write(`${JSON.stringify({ sequential: Math.round(seq), inFlight32: Math.round(par) })}\n`);
