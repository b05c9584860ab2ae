// Path-bypass payloads: each is refused (400 invalid_path) or normalised to the canonical path it must be judged as.
// The setting they attack: `/public/**` is public, `/admin/**` is not.

/** [request target as sent, canonical path or 'reject']. */
export const PATH_CORPUS: readonly (readonly [string, string])[] = [
  // dot segments, plain and encoded
  ['/public/../admin/secret', '/admin/secret'],
  ['/public/%2e%2e/admin/secret', '/admin/secret'],
  ['/public/%2E%2E/admin/secret', '/admin/secret'],
  ['/public/%2e./admin/secret', '/admin/secret'],
  ['/public/.%2E/admin/secret', '/admin/secret'],
  ['/public/%2E%2e/%2E/admin/secret', '/admin/secret'],
  ['/public/./../admin/secret', '/admin/secret'],
  ['/./admin/secret', '/admin/secret'],
  ['/public/x/../../admin/secret', '/admin/secret'],
  ['/../../admin/secret', '/admin/secret'],
  ['/public/..', '/'],
  ['/public/x/..', '/public/'],
  // encoded separators
  ['/public/..%2fadmin/secret', 'reject'],
  ['/public/..%2Fadmin/secret', 'reject'],
  ['/public/%2e%2e%2fadmin/secret', 'reject'],
  ['/public/%2e%2e%2f%2e%2e/admin', 'reject'],
  ['/%2fadmin/secret', 'reject'],
  ['/public/..%5cadmin/secret', 'reject'],
  ['/public/..%5Cadmin/secret', 'reject'],
  ['/public/..\\admin/secret', 'reject'],
  // duplicate slashes
  ['//admin/secret', '/admin/secret'],
  ['/admin//secret', '/admin/secret'],
  ['///public///..///admin/secret', '/admin/secret'],
  // path parameters
  ['/public/..;/admin/secret', 'reject'],
  ['/admin;jsessionid=x/secret', 'reject'],
  ['/admin/secret;.css', 'reject'],
  ['/admin/secret%3b.css', 'reject'],
  ['/public;/../admin/secret', 'reject'],
  // NUL and other control characters
  ['/public%00/../admin/secret', 'reject'],
  ['/admin/secret%00.json', 'reject'],
  ['/public/..%00/admin', 'reject'],
  ['/public/%0a/admin', 'reject'],
  ['/public/..%09/admin', 'reject'],
  ['/public/%7f/admin', 'reject'],
  // mixed-case and needless percent-encoding of unreserved characters
  ['/%61dmin/secret', '/admin/secret'],
  ['/admin/%73ecret', '/admin/secret'],
  ['/%61%64%6D%69%6E/%73%65%63%72%65%74', '/admin/secret'],
  ['/admin/secret%7e', '/admin/secret~'],
  // overlong and invalid UTF-8
  ['/public/%c0%ae%c0%ae/admin/secret', 'reject'],
  ['/public/%C0%AE%C0%AE/admin/secret', 'reject'],
  ['/public/..%c0%af/admin/secret', 'reject'],
  ['/public/..%c1%9c/admin/secret', 'reject'],
  ['/public/%e0%80%ae%e0%80%ae/admin/secret', 'reject'],
  ['/public/%f0%80%80%ae/admin', 'reject'],
  ['/public/..%ff/admin', 'reject'],
  ['/public/%e2%80/admin', 'reject'],
  ['/public/%ed%a0%80/admin', 'reject'],
  // double encoding
  ['/public/%252e%252e/admin/secret', 'reject'],
  ['/public/..%252f..%252fadmin', 'reject'],
  ['/public/%25%32%65%25%32%65/admin', 'reject'],
  // malformed escapes
  ['/public/%2%65%2e/admin', 'reject'],
  ['/public/%u002e%u002e/admin', 'reject'],
  ['/public/%zz/admin', 'reject'],
  ['/admin/secret%', 'reject'],
  // trailing dots (read without the dot by some servers)
  ['/admin/secret.', 'reject'],
  ['/admin./secret', 'reject'],
  ['/admin/secret..', 'reject'],
  ['/public/.../admin', 'reject'],
  // `#` and `?` games: the query never takes part; a fragment in a request target is refused
  ['/public/x?/../../admin/secret', '/public/x'],
  ['/admin/secret?/public/x', '/admin/secret'],
  ['/public%3F/../admin/secret', '/admin/secret'],
  ['/admin/secret%23/../../public/x', '/public/x'],
  ['/public/x%3F/../../admin/secret', '/admin/secret'],
  ['/admin/secret#/../../public/x', 'reject'],
  // trailing slash: judged like the path without it
  ['/admin/secret/', '/admin/secret/'],
];
