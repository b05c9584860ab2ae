// The process logger: pino JSON lines on stdout, with credentials redacted wherever they might appear.
import { pino } from 'pino';
import type { Logger } from '../core/logger.js';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'portcullis' },
    redact: {
      paths: ['*.authorization', '*.headers.authorization', '*.token', '*.secret', '*.clientSecret', 'req.headers.cookie'],
      censor: '[redacted]',
    },
  }) as unknown as Logger;
}
