// Browser tests of the web app against a real `trellis serve` (ADR 0025), driving Debian's
// Chromium with playwright-core. `npm run e2e`; the whole run is bounded (5 minutes) and the
// server is always stopped. Screenshots of the main screens go to $UI_ARTIFACTS_DIR
// (default ui/test-results/). The server, browser and runner come from support.mjs, the steps
// from flow.mjs.
//
//   TRELLIS_BIN        the binary (default ../build/release/cmd/trellis/trellis)
//   UI_ARTIFACTS_DIR   where screenshots go
//   CHROMIUM           the browser (default /usr/bin/chromium)
//   UI_E2E_PREVIEW=1   development only: serve ui/dist with `vite preview` in front of trellis
//                      (for a binary that does not serve the web app yet)
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import {
  freePort,
  kArtifacts,
  kUiDir,
  launchChromium,
  log,
  onCleanup,
  requireInputs,
  runMain,
  startTrellis,
  tempDir,
} from './support.mjs';

const kRunTimeoutMs = 5 * 60 * 1000;
const kPassword = 'correct horse battery';

// trellis serve for the browser flow, with the built-in issuer at `issuerUrl` (null: its own
// origin). Returns { base, logPath }.
function startServer(issuerUrl, port) {
  const env = {
    TRELLIS_RATE_LIMIT_ANONYMOUS: '6000/m',
    TRELLIS_LOG_LEVEL: process.env.TRELLIS_LOG_LEVEL ?? 'warn',
  };
  if (issuerUrl) env.TRELLIS_AUTH_ISSUER_URL = issuerUrl;
  return startTrellis({ port, dataDir: tempDir('trellis-ui-e2e-'), env, tailLines: 30 });
}

async function main() {
  requireInputs();
  for (const name of readdirSync(kArtifacts)) {
    if (/^failure-.*\.png$/.test(name)) rmSync(join(kArtifacts, name));
  }

  const trellisPort = await freePort();
  let base = `http://127.0.0.1:${trellisPort}`;
  if (process.env.UI_E2E_PREVIEW === '1') {
    const previewPort = await freePort();
    base = `http://127.0.0.1:${previewPort}`;
    await startServer(base, trellisPort);
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
    onCleanup(() => new Promise((r) => server.httpServer.close(() => r())));
    log(`vite preview at ${base} in front of trellis on ${trellisPort}`);
  } else {
    await startServer(null, trellisPort);
    const index = await (await fetch(`${base}/orgs/x/projects`)).text();
    if (!index.includes('id="root"')) {
      throw new Error(
        'trellis serve does not serve the web app (TRELLIS_UI_DIR) with the SPA fallback; ' +
          'rebuild the binary, or use UI_E2E_PREVIEW=1 while developing',
      );
    }
    log(`trellis serving ui/dist at ${base}`);
  }

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
  await flow({
    base,
    launch: launchChromium,
    watch,
    shot,
    log,
    password: kPassword,
    artifacts: kArtifacts,
  });
  if (errors.length > 0) throw new Error(`uncaught errors in the page:\n${errors.join('\n')}`);
}

runMain(main, { timeoutMs: kRunTimeoutMs });
