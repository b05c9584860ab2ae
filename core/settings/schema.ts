// The settings document: the event-sourced, dynamic part of the configuration, validated with zod.
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

/** An IPv4/IPv6 address or CIDR, e.g. `10.0.0.0/8`, `::1`, `2001:db8::/32`. */
export const addressOrCidr = z.string().refine(
  (v) => (v.includes('/') ? ipaddr.isValidCIDR(v) : ipaddr.isValid(v)),
  { message: 'must be an IPv4 or IPv6 address or CIDR' },
);

const ipSchema = z
  .object({
    /** Peers allowed to send X-Forwarded-* and to call /_portcullis/decide. */
    trustedProxies: z.array(addressOrCidr).max(1000).default(['127.0.0.0/8', '::1/128']),
  })
  .strict();

const auditSchema = z
  .object({
    /** Record an AccessDecided event for every decision. */
    enabled: z.boolean().default(true),
  })
  .strict();

export const settingsSchema = z
  .object({
    /** Master switch: when false every request passes untouched (and is audited as `auth_disabled`). */
    enabled: z.boolean().default(true),
    ip: ipSchema.prefault({}),
    audit: auditSchema.prefault({}),
  })
  .strict();

/** Settings with every default filled in, deeply frozen once per change. */
export type Settings = z.output<typeof settingsSchema>;

export const defaultSettings: Settings = deepFreeze(settingsSchema.parse({}));

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
