// LISTEN on the store's channel, so another node's append wakes this node's subscribers at once; polling stays the safety net.
import pg from 'pg';

import { quoteIdent } from './postgres-schema.js';

export interface ListenerOptions {
  /** A fresh, unconnected client (not from the pool: LISTEN holds its connection for good). */
  readonly connect: () => pg.Client;
  readonly channel: string;
  /** Called for every notification, and after every (re)connection: appends may have landed unheard. */
  readonly onWake: () => void;
  /** Wait before connecting again after the connection failed or was lost. Default 1000 ms. */
  readonly retryMs?: number;
}

/**
 * One LISTEN connection that comes back by itself. Its failures are never thrown: while it is
 * down, subscribers still find new events by polling, only later.
 */
export class AppendListener {
  readonly #options: ListenerOptions;
  #client: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;

  constructor(options: ListenerOptions) {
    this.#options = options;
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  /** Idempotent: the first call connects, later ones do nothing. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    void this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const client = this.#options.connect();
    // Registered before connecting: an error event without a listener would end the process.
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    client.on('notification', (message) => {
      if (message.channel === this.#options.channel) this.#options.onWake();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.#options.channel)}`);
    } catch {
      this.#lost(client);
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#options.onWake();
  }

  #lost(client: pg.Client): void {
    if (this.#client === client) this.#client = undefined;
    client.removeAllListeners('end');
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    if (this.#closed || this.#retry !== undefined) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed) void this.#connect();
    }, this.#options.retryMs ?? 1000);
    this.#retry.unref();
  }
}
