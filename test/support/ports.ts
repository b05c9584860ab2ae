// Ports for servers that cannot say which port they got (nginx, HAProxy, Apache), and one that nothing listens on.
//
// Our own servers bind port 0 and report the port (see processes.ts). Picking a free port and
// handing it to a child to bind later is a race: between the two, any socket of the machine may
// take it (an outgoing connection's local port is drawn from the same ephemeral range), and the
// child fails with EADDRINUSE. For a program that can only bind a port it is given, we draw one
// below the ephemeral range, where neither bind(0) nor an outgoing connection ever lands, and when
// another program holds it anyway, start again on another.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/**
 * A loopback port where connections are refused: 1 (tcpmux) is privileged, so no test and no
 * unprivileged program can bind it while a test counts on it being closed.
 */
export const CLOSED_PORT = 1;

/** Thrown by a start function when its program could not bind the port it was given. */
export class PortTakenError extends Error {
  constructor(readonly port: number, detail: string) {
    super(`port ${port} is taken: ${detail}`);
    this.name = 'PortTakenError';
  }
}

/** The lowest port of the kernel's ephemeral range (Linux), or the IANA one. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 11_000) return low;
  } catch {
    // not Linux: the IANA range
  }
  return 49_152;
}

/** A random port from 10000 up to the ephemeral range: above the usual fixed service ports, below what the kernel hands out. */
export function unassignedPort(): number {
  const low = 10_000;
  return low + Math.floor(Math.random() * (ephemeralLow() - low));
}

/**
 * Runs `start(port)` on a port from {@link unassignedPort}, and again on another one each time it
 * throws {@link PortTakenError} (up to `attempts` ports in all).
 */
export async function startOnUnassignedPort<T>(start: (port: number) => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(unassignedPort());
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= attempts) throw err;
    }
  }
}

/** `server.listen(port, '127.0.0.1')` in this process; PortTakenError when another program holds the port. */
export function listenOn(server: Server, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException): void => reject(err.code === 'EADDRINUSE' ? new PortTakenError(port, 'held by another program') : err);
    server.once('error', failed);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', failed);
      resolve(port);
    });
  });
}

/** A listener of this process on an unassigned port, for a test that needs a port another program holds. */
export async function holdUnassignedPort(): Promise<{ readonly port: number; close(): Promise<void> }> {
  const server = createServer((socket) => socket.destroy());
  const port = await startOnUnassignedPort((candidate) => listenOn(server, candidate));
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Inodes of the sockets process `pid` has open (its /proc/<pid>/fd links `socket:[inode]`). */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/**
 * Whether process `pid` itself holds a listening TCP socket on `port`. A probe that only finds
 * *something* answering on the port cannot tell our child from another program that had the
 * port first (our child then fails to bind, and the tests would talk to a stranger).
 */
export function listensOn(pid: number, port: number): boolean {
  const mine = socketInodes(pid);
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1], fields[3], fields[9]];
      if (state === '0A' && local?.endsWith(`:${hexPort}`) && inode !== undefined && mine.has(inode)) return true;
    }
  }
  return false;
}
