// The web app signs in with a third-party OpenID Connect issuer by configuration only: a real
// `trellis serve` with its built-in issuer off, and panva's oidc-provider (external-provider.mjs)
// named as the external issuer and the web app's authority. A guarded route sends the browser
// to the provider's login form; back in the app, an org and a project are created through the
// UI. `node e2e/external-issuer.mjs` from ui/; bounded to 3 minutes, both servers always
// stopped. The screenshot external-issuer.png goes to $UI_ARTIFACTS_DIR (default
// ui/test-results/).
//
//   TRELLIS_BIN        the binary (default ../build/release/cmd/trellis/trellis)
//   UI_ARTIFACTS_DIR   where screenshots go
//   CHROMIUM           the browser (default /usr/bin/chromium)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { expect } from './expect.mjs';

const kE2eDir = dirname(fileURLToPath(import.meta.url));
const kUiDir = resolve(kE2eDir, '..');
const kDist = join(kUiDir, 'dist');
const kBin = resolve(kUiDir, process.env.TRELLIS_BIN ?? '../build/release/cmd/trellis/trellis');
const kArtifacts = resolve(kUiDir, process.env.UI_ARTIFACTS_DIR ?? 'test-results');
const kChromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
const kRunTimeoutMs = 3 * 60 * 1000;
const kStepTimeoutMs = 15_000;
const kClientId = 'trellis-web';
const kScope = 'openid profile email';

const cleanups = [];
let finished = false;
// Server process groups still running; killed on any exit, even one without cleanup.
const servers = new Set();
const tempDirs = new Set();
process.on('exit', () => {
  for (const pid of servers) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function log(message) {
  process.stdout.write(`e2e: ${message}\n`);
}

function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function tail(path, lines = 40) {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function cleanup() {
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (e) {
      log(`cleanup: ${e instanceof Error ? e.message : e}`);
    }
  }
}

async function fail(message) {
  if (finished) return;
  finished = true;
  process.stderr.write(`e2e: FAILED: ${message}\n`);
  await cleanup();
  process.exit(1);
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

// Starts a server in its own process group, stopped (TERM, then KILL after 5 s) on cleanup.
function startProcess(command, args, options) {
  const child = spawn(command, args, { ...options, detached: true });
  servers.add(child.pid);
  child.on('exit', () => servers.delete(child.pid));
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid, 'SIGTERM');
    for (let i = 0; i < 50 && child.exitCode === null && child.signalCode === null; i += 1) {
      await sleep(100);
    }
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
  });
  return child;
}

async function startProvider(trellisOrigin, logDir) {
  const logPath = join(logDir, 'provider.log');
  const child = startProcess(
    process.execPath,
    [join(kE2eDir, 'external-provider.mjs'), trellisOrigin, '0'],
    { stdio: ['ignore', 'pipe', openSync(logPath, 'a')] },
  );
  const line = await new Promise((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error('the provider did not start in 15 s')), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the provider exited with ${code}; its log:\n${tail(logPath)}`));
    });
    createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(timer);
      resolveLine(l);
    });
  });
  const { issuer } = JSON.parse(line);
  return { issuer, logPath };
}

async function startTrellis(port, issuer, dataDir) {
  const logPath = join(dataDir, 'trellis.log');
  // A hermetic server: none of the caller's TRELLIS_* variables (trellis refuses unknown ones,
  // such as TRELLIS_BIN), only these.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('TRELLIS_')),
  );
  Object.assign(env, {
    TRELLIS_HTTP_PORT: String(port),
    TRELLIS_DATA_DIR: join(dataDir, 'data'),
    TRELLIS_UI_DIR: kDist,
    TRELLIS_AUTH_BUILTIN_ISSUER: 'false',
    TRELLIS_AUTH_EXTERNAL_ISSUERS: issuer,
    TRELLIS_UI_OIDC_AUTHORITY: issuer,
    TRELLIS_UI_OIDC_CLIENT_ID: kClientId,
    TRELLIS_UI_OIDC_SCOPE: kScope,
  });
  mkdirSync(env.TRELLIS_DATA_DIR, { recursive: true });
  const out = openSync(logPath, 'a');
  const child = startProcess(kBin, ['serve'], { cwd: dataDir, env, stdio: ['ignore', out, out] });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`trellis exited with ${child.exitCode}; its log:\n${tail(logPath)}`);
    }
    try {
      if ((await fetch(`${base}/readyz`)).ok) return { base, logPath };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`trellis was not ready within 30 s; its log:\n${tail(logPath)}`);
}

async function main() {
  if (!existsSync(join(kDist, 'index.html'))) {
    throw new Error(`${kDist}/index.html is missing: run npm run build first`);
  }
  if (!existsSync(kBin))
    throw new Error(`no trellis binary at ${kBin}: build it, or set TRELLIS_BIN`);
  if (!existsSync(kChromium)) throw new Error(`no browser at ${kChromium}: set CHROMIUM`);
  mkdirSync(kArtifacts, { recursive: true });

  const workDir = tempDir('trellis-ui-external-');
  const trellisPort = await freePort();
  const trellisOrigin = `http://127.0.0.1:${trellisPort}`;
  const provider = await startProvider(trellisOrigin, workDir);
  log(`oidc-provider at ${provider.issuer}`);
  const trellis = await startTrellis(trellisPort, provider.issuer, workDir);
  log(`trellis at ${trellis.base}, built-in issuer off, signing in with ${provider.issuer}`);
  const logs = () =>
    `\n--- trellis log:\n${tail(trellis.logPath)}\n--- provider log:\n${tail(provider.logPath)}`;

  const config = await (await fetch(`${trellis.base}/ui-config.json`)).json();
  if (config.authority !== provider.issuer || config.client_id !== kClientId) {
    throw new Error(`/ui-config.json does not name the provider: ${JSON.stringify(config)}`);
  }
  if ((await fetch(`${trellis.base}/.well-known/openid-configuration`)).status !== 404) {
    throw new Error('the built-in issuer still answers discovery');
  }

  const profile = tempDir('trellis-ui-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: kChromium,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
  });
  cleanups.push(() => context.close());
  context.setDefaultTimeout(kStepTimeoutMs);
  // Loopback only: the provider's development pages link a web font, which is refused here.
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue();
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(`uncaught ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) log(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  const shot = async (name) => {
    const path = join(kArtifacts, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    log(`screenshot ${path}`);
  };

  let step = '';
  const run = async (name, fn) => {
    step = name;
    log(`step: ${name}`);
    await fn();
  };
  const escaped = provider.issuer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  try {
    await run('a guarded route sends the browser to the provider', async () => {
      await page.goto(`${trellis.base}/orgs/new`);
      await page.waitForURL(new RegExp(`^${escaped}/interaction/`));
      await page.locator('input[name="login"]').waitFor();
    });

    await run('the user signs in on the provider and consents', async () => {
      await page.locator('input[name="login"]').fill('carol@example.com');
      await page.locator('input[name="password"]').fill('any password');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      // The development consent page, the first time a client asks.
      const consent = page.getByRole('button', { name: 'Continue' });
      const back = page.waitForURL(/\/orgs\/new$/);
      await Promise.race([consent.waitFor().then(() => consent.click()), back]);
      await back;
    });

    await run('back in the app, signed in: the token carries the provider as issuer', async () => {
      const { token, refresh } = await page.evaluate(() => {
        const key = Object.keys(sessionStorage).find((k) => k.startsWith('oidc.user:'));
        const user = key ? JSON.parse(sessionStorage.getItem(key)) : {};
        return { token: user.access_token, refresh: user.refresh_token };
      });
      if (!token) throw new Error('no access token in sessionStorage');
      if (!refresh) throw new Error('no refresh token in sessionStorage');
      const [header, payload] = token
        .split('.')
        .slice(0, 2)
        .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
      if (header.typ !== 'at+jwt' || header.alg !== 'ES256') {
        throw new Error(`odd token header ${JSON.stringify(header)}`);
      }
      if (payload.iss !== provider.issuer || payload.aud !== 'trellis-api') {
        throw new Error(`odd token claims ${JSON.stringify(payload)}`);
      }
    });

    await run('the user creates an org', async () => {
      await page.getByLabel('Name', { exact: true }).fill('Outside Partners');
      await expect(() => page.getByLabel(/Short name/).inputValue(), 'outside-partners');
      await page.getByRole('button', { name: 'Create organization' }).click();
      await page.waitForURL(/\/orgs\/[0-9a-f-]{36}\/projects$/);
      await page.getByRole('heading', { name: 'Projects' }).waitFor();
      await page.getByText('No projects yet').waitFor();
    });

    await run('the user creates a project, and it is listed', async () => {
      await page.getByLabel('Project name').fill('Federated launch');
      await page.getByRole('button', { name: 'Create project' }).click();
      await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/);
      await page.getByRole('heading', { name: 'Federated launch' }).waitFor();
      await page.getByText('No tasks yet').waitFor();
      await page.goBack();
      await page.waitForURL(/\/orgs\/[0-9a-f-]{36}\/projects$/);
      await page.getByRole('link', { name: 'Federated launch' }).waitFor();
    });
    await shot('external-issuer');

    await run(
      'a refused access token is refreshed at the provider and the call retried',
      async () => {
        const key = await page.evaluate(() => {
          const found = Object.keys(sessionStorage).find((k) => k.startsWith('oidc.user:'));
          const user = JSON.parse(sessionStorage.getItem(found));
          user.access_token = 'not-a-valid-token';
          sessionStorage.setItem(found, JSON.stringify(user));
          return found;
        });
        const refreshed = page.waitForResponse(
          (r) => r.url() === `${provider.issuer}/token` && r.request().method() === 'POST',
        );
        await page.getByRole('link', { name: 'Members' }).click();
        if ((await refreshed).status() !== 200) throw new Error('the refresh failed');
        await page.getByRole('row', { name: /carol@example.com/ }).waitFor();
        const after = await page.evaluate(
          (k) => JSON.parse(sessionStorage.getItem(k)).access_token,
          key,
        );
        const claims = JSON.parse(Buffer.from(after.split('.')[1], 'base64url').toString());
        if (claims.aud !== 'trellis-api') throw new Error(`refreshed token for ${claims.aud}`);
      },
    );
  } catch (e) {
    await shot('failure-external-issuer').catch(() => undefined);
    throw new Error(`step "${step}": ${e instanceof Error ? e.message : e}${logs()}`);
  }
  if (errors.length > 0) throw new Error(`uncaught errors in the page:\n${errors.join('\n')}`);
}

process.on('SIGINT', () => void fail('interrupted'));
process.on('SIGTERM', () => void fail('terminated'));
process.on('SIGHUP', () => void fail('hung up'));
const started = Date.now();
const timer = setTimeout(
  () => void fail(`the run took over ${kRunTimeoutMs / 1000} s`),
  kRunTimeoutMs,
);

main()
  .then(async () => {
    clearTimeout(timer);
    finished = true;
    await cleanup();
    log(`PASSED in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    process.exit(0);
  })
  .catch(async (e) => {
    clearTimeout(timer);
    await fail(e instanceof Error ? (e.stack ?? e.message) : String(e));
  });
