// Shared fixtures for the server unit tests: an in-memory runtime with the `static` provider, loopback listeners.
import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request as undiciRequest } from 'undici';

import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { Runtime } from '../../server/runtime/runtime.js';
import { MemoryEventStore } from '../../core/store/memory.js';
import { expandBlocks, type DecisionEntry } from '../../core/decision-log/reader.js';
import type { EventStore } from '../../core/store/port.js';
import { plugins, tokenHash } from '../fixtures/static-provider.js';

export { plugins, staticPlugin, tokenHash, type StaticConfig } from '../fixtures/static-provider.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/** 2024-03-05T06:07:08Z: a fixed instant, far from today, so time taken from the wall clock is noticed. */
export const FIXED_TIME = Date.UTC(2024, 2, 5, 6, 7, 8);

export interface TestRuntime {
  readonly runtime: Runtime;
  readonly store: MemoryEventStore;
  readonly clock: ManualClock;
}

export async function startRuntime(): Promise<TestRuntime> {
  const clock = new ManualClock(FIXED_TIME);
  const store = new MemoryEventStore({ clock });
  const runtime = await Runtime.start({ store, plugins, fetch: globalThis.fetch, clock, logger: silentLogger, adminToken: ADMIN_TOKEN });
  return { runtime, store, clock };
}

/** Configure the `static` provider `id` through the command API and wait until the pipeline uses it. */
export async function configureStatic(
  runtime: Runtime,
  id: string,
  tokens: Record<string, { username: string; groups?: string[] }>,
  extra: { unavailable?: boolean; ready?: boolean; warming?: boolean } = {},
): Promise<void> {
  const hashed = Object.fromEntries(Object.entries(tokens).map(([t, who]) => [tokenHash(t), { groups: [], ...who }]));
  await runtime.commands.configureProvider(id, { kind: 'static', config: { tokens: hashed, ...extra } }, undefined, { actor: 'test' });
  await runtime.whenCompiled();
}

export async function changeSettings(runtime: Runtime, patch: unknown): Promise<void> {
  await runtime.commands.changeSettings(patch, undefined, { actor: 'test' });
  await runtime.whenCompiled();
}

export interface Listening {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Listen on 127.0.0.1 on a free port; close() also drops kept-alive and hanging connections.
 * `make` builds the server (the gateway's own, server/gateway-server.ts, where its limits matter).
 */
export async function listen(handler: RequestListener, make: (handler: RequestListener) => Server = (h) => createServer(h)): Promise<Listening> {
  const server = make(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

/** One request through undici (not intercepted by nock), body read to the end. */
export async function send(
  dispatcher: Agent,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpResult> {
  const res = await undiciRequest(url, {
    dispatcher,
    method: (options.method ?? 'GET') as 'GET',
    headers: options.headers ?? {},
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const text = await res.body.text();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: tests that expect JSON assert on `text`
  }
  return { status: res.statusCode, headers, text, json };
}

/** Every stored decision, one entry each, as `GET /api/v1/events?expand=decisions` shows them. */
export const decisionEntries = async (store: EventStore): Promise<DecisionEntry[]> =>
  (await expandBlocks(store, await store.readAll({ streamPrefixes: ['access-'] }), Number.POSITIVE_INFINITY)).entries.filter(
    (e): e is DecisionEntry => 'index' in e,
  );
