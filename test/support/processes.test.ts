// Child processes for tests and the bench: ready from their own line or probe, stopped by pid, failures with their output.
import { expect } from 'chai';

import { StartError, startNode, startProcess } from './processes.js';

const node = (code: string) => ['-e', code];

describe('test/support/processes', function () {
  this.timeout(20_000);

  it('is ready at a JSON line with "ready":true, and keeps what it said', async () => {
    const child = await startProcess(process.execPath, node('console.error("warming up"); console.log(JSON.stringify({ ready: true, port: 1234 })); setInterval(() => {}, 1000);'));
    try {
      expect(child.ready).to.deep.equal({ ready: true, port: 1234 });
      expect(child.port).to.equal(1234);
      expect(child.stderr).to.deep.equal(['warming up']);
      expect(child.output).to.include('warming up');
    } finally {
      expect(await child.stop()).to.deep.equal({ code: null, signal: 'SIGTERM' });
    }
    expect(child.hasExited).to.equal(true);
  });

  it('is ready at a named line, or once a probe given its pid holds', async () => {
    const byLine = await startProcess(process.execPath, node('console.log("listening on 7"); setInterval(() => {}, 1000);'), { readyLine: /^listening on \d+$/ });
    expect(byLine.ready).to.deep.equal({});
    await byLine.kill9();
    let probed: number | undefined;
    let tries = 0;
    const byProbe = await startProcess(process.execPath, node('setInterval(() => {}, 1000);'), {
      readyProbe: async (pid) => {
        probed = pid;
        return ++tries >= 3;
      },
    });
    expect(probed).to.equal(byProbe.pid);
    await byProbe.stop();
  });

  it('fails with a StartError carrying its output when it exits before it is ready', async () => {
    const err = await startProcess(process.execPath, node('console.error("Address already in use"); process.exit(3);')).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(StartError);
    expect((err as StartError).output).to.include('Address already in use');
    expect((err as StartError).exit).to.deep.equal({ code: 3, signal: null });
  });

  it('fails with a StartError naming it when it is not ready in time', async () => {
    const err = await startProcess(process.execPath, node('setInterval(() => {}, 1000);'), { timeoutMs: 300, name: 'sluggard' }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(StartError);
    expect((err as Error).message).to.match(/^sluggard not ready within 300 ms/);
  });

  it('fails at once for a command that does not exist', async () => {
    const err = await startProcess('/nonexistent/portcullis-test-binary', []).catch((e: unknown) => e);
    expect((err as Error).message).to.equal('portcullis-test-binary: could not start /nonexistent/portcullis-test-binary');
  });

  it('names a node script after its file', async () => {
    const script = new URL('../e2e/fixtures/upstream.js', import.meta.url).pathname;
    const child = await startNode(script);
    expect(child.name).to.equal('upstream');
    await child.stop();
  });
});
