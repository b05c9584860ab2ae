// The size of a SQLite store on disk: the file and its write-ahead log.
import { statSync } from 'node:fs';

export function storeBytes(file: string): number {
  let total = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      total += statSync(f).size;
    } catch {
      // no -wal file
    }
  }
  return total;
}
