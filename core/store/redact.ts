// A store URL fit for a message: never the user or password it may carry.

/** The URL without user:password, quoted and cut short, so a mistyped connection string does not leak into logs. */
export function redactStoreUrl(url: string): string {
  return JSON.stringify(url.replace(/^([a-z][a-z0-9+.-]*:(?:\/\/)?)[^@/?#]*@/i, '$1***@').slice(0, 200));
}
