// The settings document: the event-sourced, dynamic part of the configuration, validated with zod.
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { compileClaimPath } from '../claims.js';
import { FORWARD_AUTH_HEADER_SETS } from '../forward-auth.js';
import { patternProblem } from '../path-pattern.js';

/** An IPv4/IPv6 address or CIDR, e.g. `10.0.0.0/8`, `::1`, `2001:db8::/32`. */
export const addressOrCidr = z.string().refine(
  (v) => (v.includes('/') ? ipaddr.isValidCIDR(v) : ipaddr.isValid(v)),
  { message: 'must be an IPv4 or IPv6 address or CIDR' },
);

/** A method-qualified path glob (docs/policies.md, "Path patterns"). */
export const pathPattern = z.string().superRefine((v, ctx) => {
  const problem = patternProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: `not a valid path pattern: ${problem}` });
});

const name = z.string().min(1).max(200);
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

const ipSchema = z
  .object({
    /** Clients allowed to call (empty: everyone). */
    allow: z.array(addressOrCidr).max(100_000).default([]),
    /** Clients refused; wins over `allow`. */
    deny: z.array(addressOrCidr).max(100_000).default([]),
    /** Peers whose forwarding header is believed and that may call /_portcullis/decide. */
    trustedProxies: z.array(addressOrCidr).max(1000).default(['127.0.0.0/8', '::1/128']),
    /** Where a trusted proxy puts the client address: `x-forwarded-for`, `forwarded` (RFC 7239) or a header such as `x-real-ip`. */
    realIpHeader: z
      .string()
      .regex(HEADER_NAME, 'must be an HTTP header name')
      .transform((v) => v.toLowerCase())
      .default('x-forwarded-for'),
  })
  .strict();

const pathsSchema = z
  .object({
    /** No policy at all: not authenticated, not restricted by IP, not rate limited. */
    bypass: z.array(pathPattern).max(1000).default([]),
    /** Anonymous callers pass; callers presenting a credential are still authenticated. */
    public: z.array(pathPattern).max(1000).default([]),
    /** Public after all not: these must authenticate even when `public` matches them. */
    restrictPublic: z.array(pathPattern).max(1000).default([]),
  })
  .strict();

const mappingRule = z
  .object({
    /** The gateway group granted when every condition given holds. */
    to: name,
    provider: name.optional(),
    group: name.optional(),
    claim: z
      .string()
      .min(1)
      .refine((p) => {
        try {
          compileClaimPath(p);
          return true;
        } catch {
          return false;
        }
      }, 'must be a dot path without empty segments')
      .optional(),
    value: z.string().optional(),
    scope: name.optional(),
  })
  .strict()
  .refine((r) => r.provider !== undefined || r.group !== undefined || r.claim !== undefined || r.scope !== undefined, {
    message: 'a mapping rule needs at least one of provider, group, claim, scope',
  })
  .refine((r) => r.value === undefined || r.claim !== undefined, { message: 'value needs claim', path: ['value'] });

const groupsSchema = z
  .object({
    /** Callers must be in one of these (empty: any authenticated caller). */
    allowed: z.array(name).max(1000).default([]),
    /** Members may only GET, HEAD and OPTIONS; being listed here also admits them past `allowed`. */
    readOnly: z.array(name).max(1000).default([]),
    /** May create gateway tokens (used by the token endpoints). */
    tokenCreators: z.array(name).max(1000).default([]),
    /** Gateway groups derived from provider groups, claims and scopes. */
    mapping: z.array(mappingRule).max(1000).default([]),
  })
  .strict();

const windowSeconds = z.number().int().min(1).max(86_400);
const limit = z.number().int().min(1).max(10_000_000);

const routeRateLimit = z.union([z.literal(false), z.object({ limit, windowSeconds: windowSeconds.default(60) }).strict()]);

const HOST_PATTERN = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const METHOD = /^[A-Z][A-Z-]{0,19}$/;

/** An assertion lives at most 60 s (docs/upstream-verification.md). */
const assertionTtl = z.number().int().min(1).max(60);
const assertionAudience = z.string().min(1).max(500);

const routeAssertionSchema = z
  .object({
    /** Sign (true) or not (false) on this route; absent: `assertion.enabled`. */
    enabled: z.boolean().optional(),
    /** `aud` for this route's upstream; absent: `assertion.audience`. */
    audience: assertionAudience.optional(),
    ttlSeconds: assertionTtl.optional(),
  })
  .strict();

const routeSchema = z
  .object({
    /** Shown in the trace and the rate-limit policy; defaults to `route-<n>` (1-based). */
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)').optional(),
    /** Methods the rule applies to (empty or absent: any). `GET` also covers `HEAD`. */
    methods: z.array(z.string().regex(METHOD, 'an upper-case HTTP method')).max(20).optional(),
    /** Path pattern; may be method-qualified like the `paths` lists. */
    path: pathPattern,
    /** Host name (port ignored, case-insensitive) or `*.example.com`. */
    host: z.string().transform((h) => h.toLowerCase()).pipe(z.string().regex(HOST_PATTERN, 'a host name or *.domain')).optional(),
    /** Anonymous callers pass (true) or must authenticate (false); absent: the `paths` lists decide. */
    anonymous: z.boolean().optional(),
    /** Only GET/HEAD/OPTIONS for everyone (true), or lift `groups.readOnly` on this route (false). */
    readOnly: z.boolean().optional(),
    /** The identity must come from one of these providers. */
    providers: z.array(name).min(1).max(100).optional(),
    /** The caller must be in one of these groups. */
    groups: z.array(name).min(1).max(1000).optional(),
    /** The identity must carry every one of these scopes. */
    scopes: z.array(name).min(1).max(100).optional(),
    /** Own limit for this route (its own counters), or false: not rate limited. */
    rateLimit: routeRateLimit.optional(),
    /** Overrides of the identity assertion for this route. */
    assertion: routeAssertionSchema.optional(),
  })
  .strict()
  .refine((r) => !(r.anonymous === true && (r.providers || r.groups || r.scopes)), {
    message: 'an anonymous route cannot require providers, groups or scopes',
    path: ['anonymous'],
  });

const rateLimitSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Requests per window and key. */
    limit: limit.default(600),
    windowSeconds: windowSeconds.default(60),
    /** What a limit counts: each credential (`token`), each user, or each client address. Anonymous callers count by address. */
    key: z.enum(['token', 'user', 'ip']).default('user'),
    exempt: z
      .object({
        users: z.array(name).max(1000).default([]),
        groups: z.array(name).max(1000).default([]),
        ips: z.array(addressOrCidr).max(1000).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** A regular expression (JavaScript syntax), matched against the whole token. */
const tokenPattern = z
  .string()
  .min(1)
  .max(500)
  .refine((v) => {
    try {
      new RegExp(`^(?:${v})$`);
      return true;
    } catch {
      return false;
    }
  }, 'must be a regular expression (JavaScript syntax)');

const credentialsSchema = z
  .object({
    /**
     * `allow`: Basic credentials go to the upstream untouched (unless the password is a gateway token);
     * `tokens-only`: Basic is accepted only with a gateway token as the password; `deny`: 401 `basic_auth_disabled`.
     */
    basic: z.enum(['allow', 'tokens-only', 'deny']).default('tokens-only'),
    /** Upstream-native personal access tokens (Bearer), recognised by `pattern` and forwarded unvalidated when allowed. */
    pat: z
      .object({
        allow: z.boolean().default(false),
        /** Anchored to the whole token, e.g. `[A-Za-z0-9+/]{44}` for Atlassian PATs; null: no token is taken for a PAT. */
        pattern: tokenPattern.nullable().default(null),
      })
      .strict()
      .prefault({})
      .refine((p) => !p.allow || p.pattern !== null, { message: 'allowing PATs needs a pattern to recognise them', path: ['pattern'] }),
    /** Accept gateway tokens (`pcl_…`) at all. */
    gatewayTokens: z.boolean().default(true),
    /** A header that may carry a gateway token instead of Authorization (e.g. `x-api-key`); null: none. */
    apiKeyHeader: z
      .string()
      .regex(HEADER_NAME, 'must be an HTTP header name')
      .transform((v) => v.toLowerCase())
      .refine((v) => !['authorization', 'cookie', 'host', 'proxy-authorization'].includes(v) && !v.startsWith('x-portcullis-'), {
        message: 'this header cannot carry API keys',
      })
      .nullable()
      .default(null),
  })
  .strict();

const days = z.number().int().min(1).max(36_500);

// "No limit" is `false`, not null: in a JSON merge patch null removes a key (its default applies again).
const tokensSchema = z
  .object({
    /** Callers in `groups.tokenCreators` may create their own tokens at /_portcullis/tokens. */
    allowUserCreate: z.boolean().default(false),
    /** Active (neither expired nor revoked) user tokens an owner may hold; false: no limit. */
    maxPerUser: z.union([z.number().int().min(1).max(100_000), z.literal(false)]).default(10),
    /** Longest lifetime a token may be given; false: no maximum, so tokens that never expire are allowed. */
    maxExpiryDays: z.union([days, z.literal(false)]).default(365),
    /** Lifetime when the request names none; false: `maxExpiryDays` (never, when that is false too). */
    defaultExpiryDays: z.union([days, z.literal(false)]).default(90),
  })
  .strict()
  .refine((t) => t.defaultExpiryDays === false || t.maxExpiryDays === false || t.defaultExpiryDays <= t.maxExpiryDays, {
    message: 'must not exceed maxExpiryDays',
    path: ['defaultExpiryDays'],
  });

// How much of the decision log is kept (docs/audit.md, "Retention"); false: no limit. Whole days go, oldest first.
const retentionSchema = z
  .object({
    /** Keep the decisions of this many days, today included; false: every day. */
    maxDays: z.union([days, z.literal(false)]).default(false),
    /** Keep at most about this many decisions (whole days go until the rest fit); false: no cap. */
    maxEntries: z.union([z.number().int().min(1000).max(1_000_000_000_000), z.literal(false)]).default(false),
  })
  .strict();

const auditSchema = z
  .object({
    /** Record an AccessDecided event for every decision. */
    enabled: z.boolean().default(true),
    retention: retentionSchema.prefault({}),
  })
  .strict();

const forwardAuthSchema = z
  .object({
    /**
     * The one header set /_portcullis/decide reads the method, URI and host from (docs/forward-auth.md):
     * `x-forwarded` (Traefik, and the nginx and HAProxy examples), `x-original`, or `envoy` (the path
     * appended to the decide path, the decide request's own method and Host).
     */
    headers: z.enum(FORWARD_AUTH_HEADER_SETS).default('x-forwarded'),
  })
  .strict();

// The signed identity assertion in X-Portcullis-Assertion (docs/upstream-verification.md).
const assertionSchema = z
  .object({
    /** Add X-Portcullis-Assertion to every allowed request (proxied, or the forward-auth answer). */
    enabled: z.boolean().default(false),
    /** `iss`: the gateway's name, as upstreams expect it. */
    issuer: z.string().min(1).max(500).default('portcullis'),
    /** `aud`: who the assertion is for; null: the upstream's origin (`https://api.internal:8443`). */
    audience: assertionAudience.nullable().default(null),
    /** `exp` - `iat`, at most 60. */
    ttlSeconds: assertionTtl.default(30),
    /**
     * An assertion is reused for the same caller, route, method and path for this long (it is then
     * still valid for at least ttlSeconds - reuseSeconds); 0: one signature per request, each with its own `jti`.
     */
    reuseSeconds: z.number().int().min(0).max(30).default(10),
  })
  .strict()
  .refine((a) => a.reuseSeconds < a.ttlSeconds, { message: 'must be less than ttlSeconds', path: ['reuseSeconds'] });

// Who may use the web console besides the holder of the admin token (docs/console.md, "Signing in").
const consoleSchema = z
  .object({
    /** The configured provider (its id) whose users may sign in, by authorization code with PKCE; null: the admin token only. */
    signInProvider: name.nullable().default(null),
    /** Groups, as the provider reports them, whose members may sign in; a caller in none of them is refused (403 `not_an_admin`). */
    adminGroups: z.array(name).max(100).default([]),
    /** How long a console session lasts, in minutes (the cookie's Max-Age and the expiry sealed inside it). */
    sessionMinutes: z.number().int().min(5).max(10_080).default(480),
  })
  .strict()
  .refine((c) => c.signInProvider === null || c.adminGroups.length > 0, {
    message: 'a sign-in provider needs at least one admin group',
    path: ['adminGroups'],
  });

/**
 * The settings as they are stored: what a replay reads. A rule added later (unique route names)
 * goes on {@link settingsSchema} only, so settings stored before it replay as they applied.
 */
export const storedSettingsSchema = z
  .object({
    /** Master switch: when false every request passes untouched (and is audited as `auth_disabled`). */
    enabled: z.boolean().default(true),
    credentials: credentialsSchema.prefault({}),
    ip: ipSchema.prefault({}),
    paths: pathsSchema.prefault({}),
    groups: groupsSchema.prefault({}),
    routes: z.array(routeSchema).max(1000).default([]),
    rateLimit: rateLimitSchema.prefault({}),
    tokens: tokensSchema.prefault({}),
    audit: auditSchema.prefault({}),
    forwardAuth: forwardAuthSchema.prefault({}),
    assertion: assertionSchema.prefault({}),
    console: consoleSchema.prefault({}),
  })
  .strict();

/**
 * The settings a change may leave: route names are unique, whether given or the default
 * `route-<n>`. The trace, the audit, a route's own rate-limit counters and its assertion
 * overrides all know a route by its name, so two routes of one name would share counters and
 * one would take the other's overrides.
 */
export const settingsSchema = storedSettingsSchema.superRefine((settings, ctx) => {
  const seen = new Map<string, number>();
  settings.routes.forEach((route, i) => {
    const name = routeName(route, i);
    const first = seen.get(name);
    if (first === undefined) seen.set(name, i);
    else ctx.addIssue({ code: 'custom', path: ['routes', i, 'name'], message: `the name ${name} is already routes[${first}]'s` });
  });
});

/** A route's name: its own, or `route-<n>` (1-based) for the route at `index`. */
export function routeName(route: { readonly name?: string | undefined }, index: number): string {
  return route.name ?? `route-${index + 1}`;
}

/** Settings with every default filled in, deeply frozen once per change. */
export type Settings = z.output<typeof settingsSchema>;
export type RouteSettings = Settings['routes'][number];
export type GroupMappingRule = Settings['groups']['mapping'][number];
export type CredentialSettings = Settings['credentials'];
export type TokenPolicy = Settings['tokens'];
export type AssertionSettings = Settings['assertion'];
export type ConsoleSettings = Settings['console'];

export const defaultSettings: Settings = deepFreeze(settingsSchema.parse({}));

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
