// Browser tests of the web app against a real `trellis serve` (ADR 0025), driving Debian's
// Chromium with playwright-core. `npm run e2e`; the whole run is bounded (5 minutes) and the
// server is always stopped. Screenshots of the main screens go to $UI_ARTIFACTS_DIR
// (default ui/test-results/).
//
//   TRELLIS_BIN        the binary (default ../build/release/cmd/trellis/trellis)
//   UI_ARTIFACTS_DIR   where screenshots go
//   CHROMIUM           the browser (default /usr/bin/chromium)
//   UI_E2E_PREVIEW=1   development only: serve ui/dist with `vite preview` in front of trellis
//                      (for a binary that does not serve the web app yet)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const kUiDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const kDist = join(kUiDir, 'dist');
const kBin = resolve(kUiDir, process.env.TRELLIS_BIN ?? '../build/release/cmd/trellis/trellis');
const kArtifacts = resolve(kUiDir, process.env.UI_ARTIFACTS_DIR ?? 'test-results');
const kChromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
const kRunTimeoutMs = 5 * 60 * 1000;
const kStepTimeoutMs = 15_000;
const kPassword = 'correct horse battery';

const cleanups = [];
let finished = false;
// Server process groups still running; killed on any exit, even one without cleanup (a closed
// output pipe, an uncaught error).
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

function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function log(message) {
  process.stdout.write(`e2e: ${message}\n`);
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitReady(base, child, logPath) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`trellis exited with ${child.exitCode}; its log:\n${tail(logPath)}`);
    }
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`trellis was not ready within 30 s; its log:\n${tail(logPath)}`);
}

function tail(path, lines = 30) {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function startTrellis(issuerUrl, port) {
  const dataDir = tempDir('trellis-ui-e2e-');
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const logPath = join(dataDir, 'trellis.log');
  const { openSync } = await import('node:fs');
  const out = openSync(logPath, 'a');
  // A hermetic server: none of the caller's TRELLIS_* variables (trellis refuses unknown ones,
  // such as TRELLIS_BIN), only these.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('TRELLIS_')),
  );
  Object.assign(env, {
    TRELLIS_HTTP_PORT: String(port),
    TRELLIS_DATA_DIR: join(dataDir, 'data'),
    TRELLIS_UI_DIR: kDist,
    TRELLIS_RATE_LIMIT_ANONYMOUS: '6000/m',
    TRELLIS_LOG_LEVEL: process.env.TRELLIS_LOG_LEVEL ?? 'warn',
  });
  if (issuerUrl) env.TRELLIS_AUTH_ISSUER_URL = issuerUrl;
  mkdirSync(env.TRELLIS_DATA_DIR, { recursive: true });
  const child = spawn(kBin, ['serve'], {
    cwd: dataDir,
    env,
    detached: true,
    stdio: ['ignore', out, out],
  });
  servers.add(child.pid);
  child.on('exit', () => servers.delete(child.pid));
  cleanups.push(async () => {
    if (child.exitCode !== null) return;
    process.kill(-child.pid, 'SIGTERM');
    for (let i = 0; i < 50 && child.exitCode === null; i += 1) await sleep(100);
    if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  });
  await waitReady(`http://127.0.0.1:${port}`, child, logPath);
  return { logPath };
}

async function main() {
  if (!existsSync(join(kDist, 'index.html'))) {
    throw new Error(`${kDist}/index.html is missing: run npm run build first`);
  }
  if (!existsSync(kBin)) {
    throw new Error(`no trellis binary at ${kBin}: build it, or set TRELLIS_BIN`);
  }
  if (!existsSync(kChromium)) {
    throw new Error(`no browser at ${kChromium}: apt-get install chromium, or set CHROMIUM`);
  }
  mkdirSync(kArtifacts, { recursive: true });
  for (const name of readdirSync(kArtifacts)) {
    if (/^failure-.*\.png$/.test(name)) rmSync(join(kArtifacts, name));
  }

  const trellisPort = await freePort();
  let base = `http://127.0.0.1:${trellisPort}`;
  if (process.env.UI_E2E_PREVIEW === '1') {
    const previewPort = await freePort();
    base = `http://127.0.0.1:${previewPort}`;
    await startTrellis(base, trellisPort);
    process.env.TRELLIS_PORT = String(trellisPort);
    const { preview } = await import('vite');
    const server = await preview({
      root: kUiDir,
      logLevel: 'warn',
      preview: {
        port: previewPort,
        strictPort: true,
        host: '127.0.0.1',
        // The policy the gateway sends with index.html (ADR 0023), so CSP breakage shows here too.
        headers: {
          'Content-Security-Policy':
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; " +
            "base-uri 'self'; form-action 'self'; object-src 'none'",
        },
      },
    });
    cleanups.push(() => new Promise((r) => server.httpServer.close(() => r())));
    log(`vite preview at ${base} in front of trellis on ${trellisPort}`);
  } else {
    await startTrellis(null, trellisPort);
    const index = await (await fetch(`${base}/orgs/x/projects`)).text();
    if (!index.includes('id="root"')) {
      throw new Error(
        'trellis serve does not serve the web app (TRELLIS_UI_DIR) with the SPA fallback; ' +
          'rebuild the binary, or use UI_E2E_PREVIEW=1 while developing',
      );
    }
    log(`trellis serving ui/dist at ${base}`);
  }

  const launch = async () => {
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
    cleanups.push(async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    });
    context.setDefaultTimeout(kStepTimeoutMs);
    const page = context.pages()[0] ?? (await context.newPage());
    return { context, page };
  };

  const errors = [];
  const watch = (who, page) => {
    page.on('pageerror', (e) => errors.push(`${who}: uncaught ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') log(`${who} console error: ${m.text()}`);
    });
  };
  const shot = async (page, name) => {
    const path = join(kArtifacts, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    log(`screenshot ${path}`);
  };

  const { flow } = await import('./flow.mjs');
  await flow({ base, launch, watch, shot, log, password: kPassword, artifacts: kArtifacts });
  if (errors.length > 0) throw new Error(`uncaught errors in the page:\n${errors.join('\n')}`);
}

process.on('SIGINT', () => void fail('interrupted'));
process.on('SIGTERM', () => void fail('terminated'));
process.on('SIGHUP', () => void fail('hung up'));
const timer = setTimeout(
  () => void fail(`the run took over ${kRunTimeoutMs / 1000} s`),
  kRunTimeoutMs,
);

main()
  .then(async () => {
    clearTimeout(timer);
    finished = true;
    await cleanup();
    log('PASSED');
    process.exit(0);
  })
  .catch(async (e) => {
    clearTimeout(timer);
    await fail(e instanceof Error ? (e.stack ?? e.message) : String(e));
  });
