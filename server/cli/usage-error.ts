// A command line the CLI cannot act on (unknown option, missing or malformed value): one line on stderr, exit status 2.
export class UsageError extends Error {
  override name = 'UsageError';
}
