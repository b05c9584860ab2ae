// An audience given as a list (providers `aud-oidc`, kind oidc, and `aud-key`, kind jwt-key, both accepting
// api://one and api://two): a token for any listed audience passes, every near miss is refused 401.
import type { TokenSpec } from '../forge.js';
import type { AttackCase, AttackCategory } from './types.js';

const NOT_OURS = 'audience not accepted';

function family(provider: 'aud-oidc' | 'aud-key'): AttackCase[] {
  const token = (aud: unknown): TokenSpec => ({ claims: { iss: `{{ISSUER}}/${provider}`, aud }, sign: 'ours' });
  const passes = (name: string, aud: unknown): AttackCase => ({
    name: `${provider}: ${name}`,
    request: { token: token(aud) },
    expect: { status: 200, error: 'authenticated', upstreamHeaders: { 'x-portcullis-provider': provider, 'x-portcullis-user': 'mallory' } },
  });
  const refused = (name: string, aud: unknown, description: string | undefined = NOT_OURS): AttackCase => ({
    name: `${provider}: ${name}`,
    request: { token: token(aud) },
    expect: { status: 401, error: 'invalid_token', ...(description === undefined ? {} : { description }) },
  });
  return [
    passes('aud the first listed audience', 'api://one'),
    passes('aud the second listed audience', 'api://two'),
    passes('aud a list holding a listed audience among others', ['api://other', 'api://two']),
    refused('aud an audience listed by no provider here', 'api://three'),
    refused('aud the audience of another provider (the main idp)', 'api://portcullis'),
    refused('aud both listed audiences joined by a space', 'api://one api://two'),
    refused('aud both listed audiences joined by a comma', 'api://one,api://two'),
    refused('aud a listed audience upper-cased', 'API://ONE'),
    refused('aud a prefix of a listed audience', 'api://on'),
    refused('aud a listed audience with a trailing slash', 'api://one/'),
    refused('aud an empty list', []),
    refused('aud a list of other audiences', ['api://three', 'api://four']),
    refused('aud absent', null, undefined),
  ];
}

export const audienceLists: AttackCategory = {
  name: 'an audience given as a list (oidc and jwt-key)',
  cases: [...family('aud-oidc'), ...family('aud-key')],
};
