// Ports for programs that cannot report a port 0 bind: drawn below the ephemeral range, another one when taken.
import { readFileSync } from 'node:fs';

import { expect } from 'chai';

import { startNode } from './processes.js';
import { CLOSED_PORT, PortTakenError, holdUnassignedPort, listensOn, startOnUnassignedPort, unassignedPort } from './ports.js';

const UPSTREAM_SCRIPT = new URL('../e2e/fixtures/upstream.js', import.meta.url).pathname;

describe('test/support/ports', () => {
  it('draws ports from 10000 up to below the kernel\'s ephemeral range', () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (let i = 0; i < 200; i++) expect(unassignedPort()).to.be.at.least(10_000).and.below(low);
  });

  it('starts again on another port when the start says its port is taken, and gives up after the attempts', async () => {
    const tried: number[] = [];
    const port = await startOnUnassignedPort(async (candidate) => {
      tried.push(candidate);
      if (tried.length < 3) throw new PortTakenError(candidate, 'test');
      return candidate;
    });
    expect(tried).to.have.length(3);
    expect(port).to.equal(tried[2]);
    const gaveUp = await startOnUnassignedPort(async (candidate) => {
      throw new PortTakenError(candidate, 'always');
    }, 2).catch((e: unknown) => e);
    expect(gaveUp).to.be.instanceOf(PortTakenError);
    const other = await startOnUnassignedPort(async () => {
      throw new TypeError('not about ports');
    }).catch((e: unknown) => e);
    expect(other).to.be.instanceOf(TypeError);
  });

  it('tells a process holding a listener on a port from one that does not', async () => {
    const held = await holdUnassignedPort();
    try {
      expect(listensOn(process.pid, held.port)).to.equal(true);
      const child = await startNode(UPSTREAM_SCRIPT);
      try {
        expect(listensOn(child.pid, child.port!)).to.equal(true);
        expect(listensOn(child.pid, held.port), 'the port this process holds').to.equal(false);
      } finally {
        await child.stop();
      }
    } finally {
      await held.close();
    }
    expect(listensOn(process.pid, CLOSED_PORT)).to.equal(false);
  });
});
