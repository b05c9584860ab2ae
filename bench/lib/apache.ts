// The peer: Apache httpd (event MPM) with mod_auth_openidc as an OAuth 2.0 resource server, run as a child with its own config.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';

import { PortTakenError, listensOn, startOnUnassignedPort } from '../../test/support/ports.js';
import { StartError, startProcess, type ProcessHandle } from '../../test/support/processes.js';

const MODULES = '/usr/lib/apache2/modules';
const PACKAGES = ['wrk', 'apache2', 'libapache2-mod-auth-openidc'];

/** wrk and the peer from Debian's packages, installed when absent. Returns what is still missing afterwards. */
export function ensurePackages(log: (line: string) => void): { wrk: boolean; apache: boolean } {
  const have = () => ({
    wrk: spawnSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' }).status === 0,
    apache: existsSync('/usr/sbin/apache2') && existsSync(join(MODULES, 'mod_auth_openidc.so')),
  });
  let found = have();
  if (found.wrk && found.apache) return found;
  if (process.env.BENCH_NO_INSTALL) return found;
  log(`installing ${PACKAGES.join(' ')} (apt-get)...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let res = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...PACKAGES], { stdio: 'ignore', env, timeout: 180_000 });
  if (res.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 180_000 });
    res = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...PACKAGES], { stdio: 'ignore', env, timeout: 180_000 });
  }
  found = have();
  if (!found.wrk || !found.apache) log(`could not install every package (apt-get exit ${res.status}): ${JSON.stringify(found)}`);
  return found;
}

export interface Apache {
  readonly child: ProcessHandle;
  readonly url: string;
  stop(): Promise<void>;
}

export interface ApacheOptions {
  readonly upstream: string;
  /** https only (the module refuses http); the bench's IdP serves it with a self-signed certificate. */
  readonly jwksUri: string;
  readonly audience: string;
}

/**
 * The same checks the Portcullis full path makes, as far as the module expresses them: the RS256
 * signature against the same JWKS (`OIDCOAuthVerifyJwksUri`), expiry, the audience and the group
 * (`Require claim`); then proxying with pooled keep-alive connections. Apache writes an access
 * log line per request, its counterpart of the audit event.
 */
export async function startApache(options: ApacheOptions): Promise<Apache> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-apache-'));
  chmodSync(dir, 0o755);
  try {
    // Apache cannot listen on port 0 and say which port it got: a port no other program is handed, another if taken.
    return await startOnUnassignedPort((port) => startApacheOn(options, dir, port));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startApacheOn(options: ApacheOptions, dir: string, port: number): Promise<Apache> {
  rmSync(join(dir, 'error.log'), { force: true }); // a log of an earlier attempt would mislead the diagnosis below
  const upstream = options.upstream.replace(/\/$/, '');
  const conf = `
ServerRoot ${dir}
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile ${dir}/httpd.pid
ErrorLog ${dir}/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so
LoadModule authn_core_module ${MODULES}/mod_authn_core.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule auth_openidc_module ${MODULES}/mod_auth_openidc.so
LoadModule proxy_module ${MODULES}/mod_proxy.so
LoadModule proxy_http_module ${MODULES}/mod_proxy_http.so
StartServers 2
ServerLimit 4
ThreadsPerChild 64
MaxRequestWorkers 256
MinSpareThreads 32
MaxSpareThreads 256
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
LogFormat "%h %u %t \\"%r\\" %>s %b" common
CustomLog ${dir}/access.log common
BufferedLogs On
OIDCCryptoPassphrase bench-${Date.now()}
OIDCOAuthVerifyJwksUri ${options.jwksUri}
OIDCSSLValidateServer Off
OIDCOAuthSSLValidateServer Off
OIDCOAuthRemoteUserClaim sub
<Location />
  AuthType oauth20
  <RequireAll>
    Require claim aud:${options.audience}
    Require claim groups:developers
  </RequireAll>
  ProxyPass ${upstream}/
</Location>
`;
  writeFileSync(join(dir, 'httpd.conf'), conf);
  const url = `http://127.0.0.1:${port}`;
  let child: ProcessHandle;
  try {
    child = await startProcess('/usr/sbin/apache2', ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], {
      name: 'apache',
      env: { APACHE_RUN_DIR: dir, APACHE_LOCK_DIR: dir, APACHE_LOG_DIR: dir },
      timeoutMs: 30_000,
      // Its own listener (not another program's on that port), answering as configured.
      readyProbe: async (pid) => {
        if (!listensOn(pid, port)) return false;
        const res = await request(`${url}/`, { headersTimeout: 1000 });
        await res.body.dump();
        return res.statusCode === 401;
      },
    });
  } catch (err) {
    const log = (() => {
      try {
        return readFileSync(join(dir, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    })();
    if (err instanceof StartError && [...err.output, log].some((text) => /Address already in use/.test(text))) throw new PortTakenError(port, 'apache could not bind it');
    throw err;
  }
  return {
    child,
    url,
    stop: async () => {
      await child.stop('SIGTERM', 15_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
