// The web app signs in with a third-party OpenID Connect issuer by configuration only: a real
// `trellis serve` with its built-in issuer off, and panva's oidc-provider (external-provider.mjs)
// named as the external issuer and the web app's authority. A guarded route sends the browser
// to the provider's login form; back in the app, an org and a project are created through the
// UI. `node e2e/external-issuer.mjs` from ui/; bounded to 3 minutes, both servers always
// stopped. The screenshot external-issuer.png goes to $UI_ARTIFACTS_DIR (default
// ui/test-results/). The server, browser and runner come from support.mjs.
//
//   TRELLIS_BIN        the binary (default ../build/release/cmd/trellis/trellis)
//   UI_ARTIFACTS_DIR   where screenshots go
//   CHROMIUM           the browser (default /usr/bin/chromium)
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { expect } from './expect.mjs';
import {
  freePort,
  kArtifacts,
  kE2eDir,
  launchChromium,
  log,
  requireInputs,
  runMain,
  startProcess,
  startTrellis,
  tail,
  tempDir,
} from './support.mjs';

const kRunTimeoutMs = 3 * 60 * 1000;
const kTailLines = 40;
const kClientId = 'trellis-web';
const kScope = 'openid profile email';

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
      reject(new Error(`the provider exited with ${code}; its log:\n${tail(logPath, kTailLines)}`));
    });
    createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(timer);
      resolveLine(l);
    });
  });
  const { issuer } = JSON.parse(line);
  return { issuer, logPath };
}

async function main() {
  requireInputs();

  const workDir = tempDir('trellis-ui-external-');
  const trellisPort = await freePort();
  const trellisOrigin = `http://127.0.0.1:${trellisPort}`;
  const provider = await startProvider(trellisOrigin, workDir);
  log(`oidc-provider at ${provider.issuer}`);
  const trellis = await startTrellis({
    port: trellisPort,
    dataDir: workDir,
    env: {
      TRELLIS_AUTH_BUILTIN_ISSUER: 'false',
      TRELLIS_AUTH_EXTERNAL_ISSUERS: provider.issuer,
      TRELLIS_UI_OIDC_AUTHORITY: provider.issuer,
      TRELLIS_UI_OIDC_CLIENT_ID: kClientId,
      TRELLIS_UI_OIDC_SCOPE: kScope,
    },
    tailLines: kTailLines,
  });
  log(`trellis at ${trellis.base}, built-in issuer off, signing in with ${provider.issuer}`);
  const logs = () =>
    `\n--- trellis log:\n${tail(trellis.logPath, kTailLines)}` +
    `\n--- provider log:\n${tail(provider.logPath, kTailLines)}`;

  const config = await (await fetch(`${trellis.base}/ui-config.json`)).json();
  if (config.authority !== provider.issuer || config.client_id !== kClientId) {
    throw new Error(`/ui-config.json does not name the provider: ${JSON.stringify(config)}`);
  }
  if ((await fetch(`${trellis.base}/.well-known/openid-configuration`)).status !== 404) {
    throw new Error('the built-in issuer still answers discovery');
  }

  const { context, page } = await launchChromium();
  // Loopback only: the provider's development pages link a web font, which is refused here.
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue();
    return route.abort('blockedbyclient');
  });
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

runMain(main, { timeoutMs: kRunTimeoutMs });
