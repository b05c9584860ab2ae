// IP restriction: allow and deny lists of IPv4/IPv6 addresses and CIDRs, judged on the resolved client address.
import { deny } from '../core/access.js';
import { parseIp, type AddressList } from '../core/net.js';
import type { Outcome, Stage } from '../core/pipeline.js';

export interface IpRestrictionConfig {
  /** When not empty, only these clients may call. */
  readonly allow: AddressList;
  /** These clients may not call; wins over `allow`. */
  readonly deny: AddressList;
}

export function ipRestriction(config: IpRestrictionConfig): Stage {
  const refused = deny(403, 'ip_not_allowed', 'requests from this address are not allowed');
  const open = config.allow.size === 0 && config.deny.size === 0;
  return {
    name: 'ip',
    run(request, _state, next): Outcome {
      if (open) return next();
      // The edge resolved the address through trusted proxies only (core/net.ts compileClientIpResolver).
      const ip = parseIp(request.clientIp);
      if (!ip) return config.allow.size > 0 ? refused : next();
      if (config.deny.has(ip)) return refused;
      if (config.allow.size > 0 && !config.allow.has(ip)) return refused;
      return next();
    },
  };
}
