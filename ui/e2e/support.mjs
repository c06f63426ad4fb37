// The harness shared by the browser tests (run.mjs, external-issuer.mjs): paths and env knobs,
// a cleanup stack run on every way out, server processes in their own process groups (killed
// even on an exit that skips the cleanup), a hermetic `trellis serve`, Debian's Chromium with
// a temporary profile, and the runner that bounds a test and prints PASSED or FAILED.
//
//   TRELLIS_BIN        the binary (default ../build/release/cmd/trellis/trellis)
//   UI_ARTIFACTS_DIR   where screenshots go (default ui/test-results/)
//   CHROMIUM           the browser (default /usr/bin/chromium)
//
// Usage:
//   import { freePort, launchChromium, requireInputs, runMain, startTrellis, tempDir }
//     from './support.mjs';
//   runMain(async () => {
//     requireInputs();
//     const trellis = await startTrellis({ port: await freePort(), dataDir: tempDir('x-') });
//     const { page } = await launchChromium();
//     await page.goto(trellis.base);
//   }, { timeoutMs: 3 * 60 * 1000 });
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const kE2eDir = dirname(fileURLToPath(import.meta.url));
export const kUiDir = resolve(kE2eDir, '..');
export const kDist = join(kUiDir, 'dist');
export const kBin = resolve(
  kUiDir,
  process.env.TRELLIS_BIN ?? '../build/release/cmd/trellis/trellis',
);
export const kArtifacts = resolve(kUiDir, process.env.UI_ARTIFACTS_DIR ?? 'test-results');
export const kChromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
// How long one browser action or wait may take.
export const kStepTimeoutMs = 15_000;

const cleanups = [];
let finished = false;
// Server process groups still running and temporary directories; killed and removed on any
// exit, even one without cleanup (a closed output pipe, an uncaught error).
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

export function log(message) {
  process.stdout.write(`e2e: ${message}\n`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A new directory under the system's temp dir, removed when the process exits.
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

// The last `lines` lines of a log file, for error messages.
export function tail(path, lines = 30) {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// A loopback port nobody listens on right now.
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

// Runs `fn` (may be async) at the end of the test, last registered first.
export function onCleanup(fn) {
  cleanups.push(fn);
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

// Throws unless ui/dist, the trellis binary and the browser are there; makes the artifacts dir.
export function requireInputs() {
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
}

// Starts a server in its own process group, stopped (TERM, then KILL after 5 s) on cleanup.
export function startProcess(command, args, options) {
  const child = spawn(command, args, { ...options, detached: true });
  servers.add(child.pid);
  child.on('exit', () => servers.delete(child.pid));
  const running = () => child.exitCode === null && child.signalCode === null;
  onCleanup(async () => {
    if (!running()) return;
    process.kill(-child.pid, 'SIGTERM');
    for (let i = 0; i < 50 && running(); i += 1) await sleep(100);
    if (running()) process.kill(-child.pid, 'SIGKILL');
  });
  return child;
}

// Starts `trellis serve` on `port` serving ui/dist, with its data and its log (trellis.log) in
// `dataDir`, and waits (30 s at most) until /readyz answers. A hermetic server: none of the
// caller's TRELLIS_* variables (trellis refuses unknown ones, such as TRELLIS_BIN), only the
// port, data dir and UI dir, and `env` on top. Errors carry the last `tailLines` of the log.
// Returns { base, logPath }.
export async function startTrellis({ port, dataDir, env: extra = {}, tailLines = 30 }) {
  const logPath = join(dataDir, 'trellis.log');
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('TRELLIS_')),
  );
  Object.assign(env, {
    TRELLIS_HTTP_PORT: String(port),
    TRELLIS_DATA_DIR: join(dataDir, 'data'),
    TRELLIS_UI_DIR: kDist,
    ...extra,
  });
  mkdirSync(env.TRELLIS_DATA_DIR, { recursive: true });
  const out = openSync(logPath, 'a');
  const child = startProcess(kBin, ['serve'], { cwd: dataDir, env, stdio: ['ignore', out, out] });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(
        `trellis exited with ${child.exitCode}; its log:\n${tail(logPath, tailLines)}`,
      );
    }
    try {
      if ((await fetch(`${base}/readyz`)).ok) return { base, logPath };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`trellis was not ready within 30 s; its log:\n${tail(logPath, tailLines)}`);
}

// Launches headless Chromium with a new temporary profile (1280×860, kStepTimeoutMs per
// action), closed and removed on cleanup. Returns { context, page }.
export async function launchChromium() {
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
  onCleanup(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  context.setDefaultTimeout(kStepTimeoutMs);
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
}

// Runs the test `main` bounded to `timeoutMs`: on success the cleanups run and
// `e2e: PASSED in N s` is printed (exit 0); on an error, a signal or the timeout,
// `e2e: FAILED: <why>` goes to stderr, the cleanups run, and the exit code is 1.
export function runMain(main, { timeoutMs }) {
  process.on('SIGINT', () => void fail('interrupted'));
  process.on('SIGTERM', () => void fail('terminated'));
  process.on('SIGHUP', () => void fail('hung up'));
  const started = Date.now();
  const timer = setTimeout(() => void fail(`the run took over ${timeoutMs / 1000} s`), timeoutMs);
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
}
