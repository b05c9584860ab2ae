// A store URL fit for a message: never the user or password it may carry.

/** The URL with any user:password replaced by `***`. */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:(?:\/\/)?)[^@/?#]*@/i, '$1***@');
}

/** {@link withoutCredentials}, quoted and cut short, so a mistyped connection string does not leak into logs. */
export function redactStoreUrl(url: string): string {
  return JSON.stringify(withoutCredentials(url).slice(0, 200));
}
