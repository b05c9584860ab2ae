// The web console's static files on the admin listener (never the gateway's): what scripts/build-console.mjs bundled into dist/console, nothing else.
import { readFile, readdir } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import { NotFoundError } from '../../core/errors.js';
import type { AdminContext, AdminState } from './context.js';

export const CONSOLE_PREFIX = '/console';

/** dist/server/admin → dist/console, where `npm run build` puts the console (scripts/build-console.mjs). */
const BUILT = fileURLToPath(new URL('../../console/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Scripts and styles from this origin only, no inline script or style, no framing; `connect-src 'self'`
 * for the admin API. `img-src data:` for uPlot's legend markers.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

async function listFiles(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true }).catch(() => [])) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (TYPES[extname(entry.name)] && !entry.name.endsWith('.d.ts')) files.set(relative(dir, path).split(sep).join('/'), path);
    }
  };
  await walk(dir);
  return files;
}

/** Reachable without a credential: the sign-in page and its script. */
export const isConsolePath = (path: string): boolean => path === CONSOLE_PREFIX || path.startsWith(`${CONSOLE_PREFIX}/`);

export function registerConsoleRoutes(open: Router<AdminState>): void {
  // The set of files is read once: a request names one of them or gets 404, so no path can climb out.
  let built: Promise<Map<string, string>> | undefined;
  const send = async (ctx: AdminContext, path: string | undefined) => {
    if (!path) throw new NotFoundError(`no console file ${ctx.path}`);
    ctx.set('content-security-policy', CONSOLE_CSP);
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('referrer-policy', 'no-referrer');
    ctx.set('x-frame-options', 'DENY');
    ctx.type = TYPES[extname(path)] ?? 'application/octet-stream';
    ctx.body = await readFile(path);
  };

  open.get(CONSOLE_PREFIX, (ctx) => {
    ctx.status = 308;
    ctx.redirect(`${CONSOLE_PREFIX}/`);
  });
  const builtFile = async (ctx: AdminContext, name: string) => {
    built ??= listFiles(BUILT);
    const files = await built;
    if (files.size === 0) built = undefined; // not built yet: look again next time
    await send(ctx, files.get(name));
  };
  open.get(`${CONSOLE_PREFIX}/`, (ctx) => builtFile(ctx, 'index.html'));
  open.get(`${CONSOLE_PREFIX}/*file`, (ctx) => builtFile(ctx, [ctx.params.file ?? ''].flat().join('/')));
}
