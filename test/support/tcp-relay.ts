// A TCP relay in the test process, in front of a real server (PostgreSQL, Redis): switched off, it cuts every connection and refuses new ones, so a service "goes away" for the processes behind it while the machine's server keeps running.
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpRelay {
  /** The port the relay listens on (127.0.0.1). */
  readonly port: number;
  /** Cut every open connection and refuse new ones (each is accepted and reset at once). */
  down(): void;
  /** Go down the moment a client sends bytes that `matches` (e.g. a given SQL statement), before they are relayed. */
  downWhen(matches: (chunk: Buffer) => boolean): void;
  /** Relay new connections again. */
  up(): void;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 port 0 and relays each connection to `host:port`. */
export async function startTcpRelay(host: string, port: number): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  let isDown = false;
  let trigger: ((chunk: Buffer) => boolean) | undefined;
  const down = (): void => {
    isDown = true;
    trigger = undefined;
    for (const s of sockets) s.resetAndDestroy();
  };
  const server = createServer((client) => {
    if (isDown) return void client.resetAndDestroy();
    const upstream = connect(port, host);
    for (const [s, peer] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(s);
      // A side that ends in any way (a process killed, a reset) closes the other, as a direct connection would.
      s.on('close', () => {
        sockets.delete(s);
        peer.destroy();
      });
      s.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      if (trigger?.(chunk)) down();
      else if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    client.on('end', () => upstream.end());
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    down,
    downWhen: (matches) => {
      trigger = matches;
    },
    up: () => {
      isDown = false;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
