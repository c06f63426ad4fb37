// deploy/nginx serves the web app's build the way the Trellis gateway does (ADR 0024, the
// answer table of ADR 0023).
//
// Starts `trellis serve` on a free loopback port (serving the build itself, TRELLIS_UI_DIR) and
// Debian's nginx on another, running deploy/nginx/nginx.conf around deploy/nginx/trellis.conf
// with its three OPERATOR lines rewritten (listen, root, upstream). One list of assertions runs
// against both base URLs; the proxy's own duties (the API's problem+json, health, no metrics,
// request ids, the body limit, the unbuffered event stream with a real token) run through nginx.
//
//   TRELLIS_BIN=build/nginx/cmd/trellis/trellis [UI_DIST=ui/dist] [NGINX_BIN=/usr/sbin/nginx] \
//     node tests/nginx/nginx_test.mjs
//
// Run as a script, not with `node --test` (whose runner would turn the skip into a failure).
// Without UI_DIST (or UI_DIST_IF_BUILT naming a directory with an index.html, as ctest passes
// ui/dist) a small fixture build is made in the temp dir: index.html, a hashed script and
// favicon.svg, each with .gz and .br siblings, and a .vite/manifest.json that must not be
// served. Exit code 77 (ctest's skip) when nginx or its brotli_static module is missing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const kSkip = 77;
const here = path.dirname(fileURLToPath(import.meta.url));
const deployDir = process.env.DEPLOY_NGINX_DIR ?? path.resolve(here, '../../deploy/nginx');
const nginxBin = process.env.NGINX_BIN ?? '/usr/sbin/nginx';
const brotliModule = '/usr/lib/nginx/modules/ngx_http_brotli_static_module.so';
const trellisBin = process.env.TRELLIS_BIN && path.resolve(process.env.TRELLIS_BIN);

if (!fs.existsSync(nginxBin)) {
  console.log(`SKIP: no nginx at ${nginxBin} (Debian: nginx-light)`);
  process.exit(kSkip);
}
if (!fs.existsSync(brotliModule)) {
  console.log(`SKIP: no ${brotliModule} (Debian: libnginx-mod-http-brotli-static)`);
  process.exit(kSkip);
}
if (!trellisBin || !fs.existsSync(trellisBin)) {
  console.error(`TRELLIS_BIN must name the trellis binary (got ${trellisBin ?? 'nothing'})`);
  process.exit(1);
}

const kCsp =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";
const kImmutable = 'public, max-age=31536000, immutable';
const kClientId = 'nginx-test';
const kRedirect = 'http://127.0.0.1/callback';

// ---- helpers ----

// One HTTP/1.1 request with the raw body (no decompression, unlike fetch).
function request(base, target, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(target, base), { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${target}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, probe, ms = 30_000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      if (await probe()) return;
    } catch (e) {
      if (e.fatal) throw e;
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`${what} not ready after ${ms} ms${last ? `: ${last.message}` : ''}`);
}

// A child process whose output is kept for the failure message.
function start(name, cmd, args, opts) {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  child.output = '';
  const keep = (d) => {
    child.output = (child.output + d).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  child.on('error', (e) => {
    child.output += `\n${e.message}`;
  });
  child.label = name;
  return child;
}

async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer;
  const late = new Promise((r) => {
    timer = setTimeout(() => r(null), 10_000);
  });
  const done = await Promise.race([child.exited, late]);
  clearTimeout(timer);
  if (!done) {
    child.kill('SIGKILL');
    await child.exited;
  }
}

// The fixture build: what `vite build` plus the compression step make, in small.
function writeFixture(dir) {
  fs.mkdirSync(path.join(dir, 'assets'), { recursive: true });
  const files = {
    'index.html':
      '<!doctype html><html><head><meta charset="utf-8"><meta name="trellis-fixture" content="nginx">' +
      '<script type="module" src="/assets/app-1a2b3c4d.js"></script></head>' +
      '<body><div id="root"></div></body></html>\n',
    'assets/app-1a2b3c4d.js': `// fixture\n${'export const board = "columns";\n'.repeat(200)}`,
    'favicon.svg': '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"></svg>\n',
    // Vite's manifest, when asked for: part of the build directory, never served.
    '.vite/manifest.json': '{"index.html":{"file":"assets/app-1a2b3c4d.js"}}\n',
  };
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    fs.writeFileSync(`${file}.gz`, zlib.gzipSync(text, { level: 9 }));
    fs.writeFileSync(`${file}.br`, zlib.brotliCompressSync(text));
  }
}

// index.html's Content-Security-Policy is kCsp, except that connect-src and form-action may
// also name the OIDC authority's origin (the gateway lists it even when it is its own origin,
// ADR 0023; nginx's 'self' covers it, the issuer being nginx's own address).
function assertCsp(value, what) {
  const parse = (csp) =>
    new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .filter((d) => d[0])
        .map(([name, ...sources]) => [name, sources]),
    );
  const want = parse(kCsp);
  const got = parse(value ?? '');
  assert.deepEqual([...got.keys()], [...want.keys()], `${what}: CSP directives: ${value}`);
  for (const [name, sources] of want) {
    let actual = got.get(name);
    if (name === 'connect-src' || name === 'form-action') {
      actual = actual.filter((src) => src !== new URL(bases.nginx).origin);
    }
    assert.deepEqual(actual, sources, `${what}: CSP ${name}: ${value}`);
  }
}

// The body as sent, decoded by its Content-Encoding.
function decode(r) {
  const e = r.headers['content-encoding'];
  if (e === 'br') return zlib.brotliDecompressSync(r.body);
  if (e === 'gzip') return zlib.gunzipSync(r.body);
  assert.equal(e, undefined, `unexpected Content-Encoding ${e}`);
  return r.body;
}

// A hashed script or stylesheet of the build with both compressed siblings (the biggest).
function pickAsset(dist) {
  const dir = path.join(dist, 'assets');
  const candidates = fs
    .readdirSync(dir)
    .filter((f) => /\.(js|css)$/.test(f))
    .filter(
      (f) => fs.existsSync(path.join(dir, `${f}.gz`)) && fs.existsSync(path.join(dir, `${f}.br`)),
    )
    .map((f) => ({ f, size: fs.statSync(path.join(dir, f)).size }))
    .sort((a, b) => b.size - a.size);
  assert.ok(candidates.length > 0, `${dir}: no asset with .gz and .br siblings`);
  return `/assets/${candidates[0].f}`;
}

// Rewrites each OPERATOR line of trellis.conf; every one must be found exactly once.
function renderTrellisConf(text, { port, root, upstream }) {
  const rewrites = [
    [/^(\s*)listen 80;/m, `$1listen 127.0.0.1:${port};`],
    [/^(\s*)root \/srv\/trellis\/ui;/m, `$1root ${root};`],
    [/^(\s*)server 127\.0\.0\.1:8080;/m, `$1server ${upstream};`],
  ];
  for (const [re, to] of rewrites) {
    const global = new RegExp(re.source, 'gm');
    assert.equal(text.match(global)?.length, 1, `trellis.conf: expected one line matching ${re}`);
    text = text.replace(re, to);
  }
  return text;
}

// ---- the two servers ----

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-nginx-'));
// nginx started as root serves files as `nobody`: the temp tree must be readable.
fs.chmodSync(tmp, 0o755);
// UI_DIST: this build, required to exist. UI_DIST_IF_BUILT (what ctest passes, the repo's
// ui/dist): used when it holds a build. Otherwise the fixture.
function chooseDist() {
  if (process.env.UI_DIST) {
    const d = path.resolve(process.env.UI_DIST);
    assert.ok(fs.existsSync(path.join(d, 'index.html')), `UI_DIST=${d} has no index.html`);
    return d;
  }
  const built = process.env.UI_DIST_IF_BUILT;
  if (built && fs.existsSync(path.join(built, 'index.html'))) return path.resolve(built);
  const d = path.join(tmp, 'dist');
  writeFixture(d);
  return d;
}
const dist = chooseDist();
console.log(`# serving ${dist}`);
const asset = pickAsset(dist);
const assetBytes = fs.readFileSync(path.join(dist, asset));
const indexBytes = fs.readFileSync(path.join(dist, 'index.html'));

let trellis;
let nginx;
// Never leave a server behind: on a signal, and before ctest's own timeout (180 s) would kill
// this process alone.
function killChildren() {
  for (const c of [nginx, trellis])
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killChildren();
    process.exit(1);
  });
}
setTimeout(() => {
  console.error('nginx_test: still running after 150 s; stopping the servers');
  killChildren();
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
}, 150_000).unref();
const bases = {};

before(async () => {
  const [trellisPort, nginxPort] = [await freePort(), await freePort()];
  bases.trellis = `http://127.0.0.1:${trellisPort}`;
  bases.nginx = `http://127.0.0.1:${nginxPort}`;

  const data = path.join(tmp, 'data');
  fs.mkdirSync(data);
  trellis = start('trellis', trellisBin, ['serve'], {
    cwd: tmp,
    env: {
      // Only the variables below configure it (Trellis refuses unknown TRELLIS_* variables).
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRELLIS_'))),
      TRELLIS_HTTP_ADDRESS: '127.0.0.1',
      TRELLIS_HTTP_PORT: String(trellisPort),
      TRELLIS_DATA_DIR: data,
      TRELLIS_UI_DIR: dist,
      // As deployed: the public address (nginx's) is the issuer's, so the web app signs in there.
      TRELLIS_AUTH_ISSUER_URL: bases.nginx,
      TRELLIS_AUTH_CLIENTS: `${kClientId}=${kRedirect}`,
      TRELLIS_LOG_ACCESS: 'false',
    },
  });

  const prefix = path.join(tmp, 'nginx');
  for (const d of ['logs', 'tmp']) fs.mkdirSync(path.join(prefix, d), { recursive: true });
  fs.chmodSync(prefix, 0o755);
  fs.copyFileSync(path.join(deployDir, 'nginx.conf'), path.join(prefix, 'nginx.conf'));
  const conf = fs.readFileSync(path.join(deployDir, 'trellis.conf'), 'utf8');
  fs.writeFileSync(
    path.join(prefix, 'trellis.conf'),
    renderTrellisConf(conf, { port: nginxPort, root: dist, upstream: `127.0.0.1:${trellisPort}` }),
  );
  nginx = start(
    'nginx',
    nginxBin,
    ['-p', `${prefix}/`, '-c', 'nginx.conf', '-e', 'logs/error.log'],
    {
      cwd: prefix,
    },
  );
  nginx.errorLog = path.join(prefix, 'logs/error.log');

  const alive = (child) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log =
        child.errorLog && fs.existsSync(child.errorLog)
          ? fs.readFileSync(child.errorLog, 'utf8')
          : '';
      const e = new Error(
        `${child.label} exited (${child.exitCode ?? child.signalCode}):\n${child.output}${log}`,
      );
      e.fatal = true;
      throw e;
    }
  };
  await waitFor('trellis /readyz', async () => {
    alive(trellis);
    return (await request(bases.trellis, '/readyz')).status === 200;
  });
  await waitFor('nginx', async () => {
    alive(nginx);
    return (await request(bases.nginx, '/healthz')).status === 200;
  });
});

after(async () => {
  await stop(nginx);
  await stop(trellis);
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---- one list of assertions, against nginx and against trellis itself ----

for (const target of ['nginx', 'trellis']) {
  describe(`the web app's build through ${target}`, () => {
    const base = () => bases[target];

    test('index.html: no-cache, the CSP, no referrer, nosniff, the file itself', async () => {
      for (const p of ['/', '/index.html']) {
        const r = await request(base(), p);
        assert.equal(r.status, 200, p);
        assert.match(r.headers['content-type'], /^text\/html/, p);
        assert.equal(r.headers['cache-control'], 'no-cache', p);
        assertCsp(r.headers['content-security-policy'], p);
        assert.equal(r.headers['referrer-policy'], 'no-referrer', p);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
        assert.deepEqual(r.body, indexBytes, p);
      }
    });

    test('index.html in any accepted encoding is the same document', async () => {
      for (const accept of ['br, gzip', 'gzip']) {
        const r = await request(base(), '/', { headers: { 'accept-encoding': accept } });
        assert.equal(r.status, 200, accept);
        assert.equal(r.headers['cache-control'], 'no-cache', accept);
        assert.deepEqual(decode(r), indexBytes, accept);
      }
      const head = await request(base(), '/index.html', { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers['cache-control'], 'no-cache');
      assert.equal(head.body.length, 0);
    });

    test('revalidation: the ETag answers 304', async () => {
      for (const p of ['/index.html', asset]) {
        const r = await request(base(), p);
        const etag = r.headers.etag;
        assert.ok(etag, `${p}: no ETag`);
        const again = await request(base(), p, { headers: { 'if-none-match': etag } });
        assert.equal(again.status, 304, p);
        assert.equal(again.body.length, 0, p);
        const changed = await request(base(), p, { headers: { 'if-none-match': '"other"' } });
        assert.equal(changed.status, 200, p);
      }
    });

    test('a hashed asset is immutable for a year', async () => {
      const r = await request(base(), asset);
      assert.equal(r.status, 200);
      assert.equal(r.headers['cache-control'], kImmutable);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.match(r.headers['content-type'], /javascript|css/);
    });

    test('precompressed: br preferred, gzip when only gzip, identity otherwise; Vary', async () => {
      const cases = [
        ['gzip, deflate, br', 'br'],
        ['br', 'br'],
        ['gzip', 'gzip'],
        ['br;q=0, gzip', 'gzip'],
        [undefined, undefined],
        ['identity', undefined],
      ];
      for (const [accept, encoding] of cases) {
        const headers = accept === undefined ? {} : { 'accept-encoding': accept };
        const r = await request(base(), asset, { headers });
        const what = `Accept-Encoding: ${accept ?? '(none)'}`;
        assert.equal(r.status, 200, what);
        assert.equal(r.headers['content-encoding'], encoding, what);
        assert.match(r.headers.vary ?? '', /accept-encoding/i, what);
        assert.equal(r.headers['cache-control'], kImmutable, what);
        if (encoding) assert.ok(r.body.length < assetBytes.length, `${what}: not smaller`);
        assert.deepEqual(decode(r), assetBytes, what);
      }
    });

    test('a root file is no-cache', async (t) => {
      if (!fs.existsSync(path.join(dist, 'favicon.svg')))
        return t.skip('the build has no favicon.svg');
      const r = await request(base(), '/favicon.svg');
      assert.equal(r.status, 200);
      assert.equal(r.headers['cache-control'], 'no-cache');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.match(r.headers['content-type'], /^image\/svg\+xml/);
    });

    test('client routes get index.html (no-cache)', async () => {
      for (const p of [
        '/orgs/x/projects/y',
        '/orgs/x/projects/y/',
        '/signed-out',
        '/auth/callback?code=c&state=s',
      ]) {
        const r = await request(base(), p);
        assert.equal(r.status, 200, p);
        assert.equal(r.headers['cache-control'], 'no-cache', p);
        assertCsp(r.headers['content-security-policy'], p);
        assert.deepEqual(r.body, indexBytes, p);
      }
    });

    test('missing files and the server\u2019s own paths are 404, not index.html', async () => {
      const paths = [
        '/assets/missing.js',
        '/assets/app-00000000.css',
        '/missing.png',
        '/orgs/x/report.pdf',
        '/assets',
        '/assets/',
        '/api',
        '/oidc',
        '/.well-known',
      ];
      if (fs.existsSync(path.join(dist, '.vite'))) paths.push('/.vite/manifest.json');
      // The compressed siblings are variants, never paths of their own.
      paths.push(`${asset}.gz`, `${asset}.br`);
      for (const p of paths) {
        const r = await request(base(), p);
        assert.equal(r.status, 404, p);
        assert.notEqual(r.headers['cache-control'], kImmutable, p);
        assert.ok(!r.body.equals(indexBytes), p);
      }
    });

    test('unknown API paths are the API\u2019s 404, not the app', async () => {
      const r = await request(base(), '/api/v1/no-such-thing');
      assert.equal(r.status, 404);
      assert.match(r.headers['content-type'], /^application\/problem\+json/);
    });
  });
}

// ---- what only the proxy does ----

describe('nginx in front of trellis', () => {
  const base = () => bases.nginx;

  test('/api/v1/me without credentials: Trellis\u2019s 401 problem+json', async () => {
    const r = await request(base(), '/api/v1/me');
    assert.equal(r.status, 401);
    assert.match(r.headers['content-type'], /^application\/problem\+json/);
    assert.match(r.headers['www-authenticate'] ?? '', /^Bearer/);
    const problem = JSON.parse(r.body.toString());
    assert.equal(problem.status, 401);
    assert.equal(problem.instance, '/api/v1/me');
  });

  test('health and readiness pass through; /metrics is not exposed', async () => {
    assert.equal((await request(base(), '/healthz')).status, 200);
    assert.equal((await request(base(), '/readyz')).status, 200);
    const direct = await request(bases.trellis, '/metrics');
    const m = await request(base(), '/metrics');
    assert.equal(m.status, 404);
    assert.doesNotMatch(m.body.toString(), /# (HELP|TYPE) /);
    if (direct.status === 200) assert.match(direct.body.toString(), /# (HELP|TYPE) /);
  });

  test('the issuer and the web app config are proxied', async () => {
    const d = await request(base(), '/.well-known/openid-configuration');
    assert.equal(d.status, 200);
    assert.equal(JSON.parse(d.body.toString()).issuer, bases.nginx);
    const j = await request(base(), '/oidc/jwks');
    assert.equal(j.status, 200);
    assert.ok(Array.isArray(JSON.parse(j.body.toString()).keys));
    const c = await request(bases.trellis, '/ui-config.json');
    const viaNginx = await request(base(), '/ui-config.json');
    assert.equal(viaNginx.status, c.status);
    if (c.status === 200) assert.deepEqual(viaNginx.body, c.body);
  });

  test('X-Request-Id: the client\u2019s is forwarded, else nginx makes one', async () => {
    const given = await request(base(), '/healthz', {
      headers: { 'x-request-id': 'nginx-test-42' },
    });
    assert.equal(given.headers['x-request-id'], 'nginx-test-42');
    const made = await request(base(), '/healthz');
    assert.match(made.headers['x-request-id'] ?? '', /^[0-9a-f]{32}$/);
  });

  test('request bodies over 1 MiB are refused before Trellis', async () => {
    const body = Buffer.alloc(1024 * 1024 + 1, 0x61);
    const r = await request(base(), '/api/v1/orgs', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': body.length },
      body,
    });
    assert.equal(r.status, 413);
  });

  test('the live event stream is proxied unbuffered (a real token)', async () => {
    const token = await signUpToken(base(), `nginx-${crypto.randomUUID()}@example.com`);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const me = await request(base(), '/api/v1/me', { headers: auth });
    assert.equal(me.status, 200, me.body.toString());

    const slug = `ngx-${crypto.randomBytes(4).toString('hex')}`;
    const org = await request(base(), '/api/v1/orgs', {
      method: 'POST',
      headers: { ...auth, 'idempotency-key': crypto.randomUUID() },
      body: JSON.stringify({ name: 'Nginx test', slug }),
    });
    assert.equal(org.status, 201, org.body.toString());
    const orgId = JSON.parse(org.body.toString()).id;

    const stream = await openStream(base(), `/api/v1/orgs/${orgId}/events`, auth);
    try {
      assert.equal(stream.status, 200);
      assert.match(stream.headers['content-type'], /^text\/event-stream/);
      // (Trellis currently sends Cache-Control: no-store twice on the stream; either way.)
      assert.match(stream.headers['cache-control'] ?? '', /no-store/);
      assert.ok(stream.headersAfterMs < 3000, `headers after ${stream.headersAfterMs} ms`);

      // A change made now must arrive through nginx while the stream stays open.
      const project = await request(base(), `/api/v1/orgs/${orgId}/projects`, {
        method: 'POST',
        headers: { ...auth, 'idempotency-key': crypto.randomUUID() },
        body: JSON.stringify({ name: 'Live through nginx' }),
      });
      assert.equal(project.status, 201, project.body.toString());
      const projectId = JSON.parse(project.body.toString()).id;
      const text = await stream.until((s) => s.includes(projectId), 10_000);
      assert.match(text, /^event: /m);
    } finally {
      stream.close();
    }
  });

  test('without a token the event stream is Trellis\u2019s 401, promptly', async () => {
    const s = await openStream(base(), `/api/v1/orgs/${crypto.randomUUID()}/events`, {});
    try {
      assert.equal(s.status, 401);
      assert.match(s.headers['content-type'], /^application\/problem\+json/);
      assert.ok(s.headersAfterMs < 3000);
    } finally {
      s.close();
    }
  });
});

// An open response whose body is read as it comes: status and headers at once, then text.
function openStream(base, target, headers) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const req = http.request(new URL(target, base), { headers, agent: false }, (res) => {
      let text = '';
      const waiters = [];
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
        for (const w of waiters.splice(0)) w();
      });
      resolve({
        status: res.statusCode,
        headers: res.headers,
        headersAfterMs: Date.now() - t0,
        until: async (pred, ms) => {
          const end = Date.now() + ms;
          while (!pred(text)) {
            if (Date.now() > end) throw new Error(`stream: not seen in ${ms} ms; got:\n${text}`);
            await Promise.race([new Promise((r) => waiters.push(r)), sleep(100)]);
          }
          return text;
        },
        close: () => req.destroy(),
      });
    });
    req.setTimeout(5_000, () => req.destroy(new Error(`${target}: no response in 5 s`)));
    req.on('error', (e) => {
      if (e.code !== 'ECONNRESET') reject(e);
    });
    req.end();
  });
}

// Signs a new user up at the built-in issuer through `base` and runs the code + PKCE exchange
// as the test's client (TRELLIS_AUTH_CLIENTS), as the sign-in page and a browser would.
async function signUpToken(base, email) {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const params = {
    client_id: kClientId,
    redirect_uri: kRedirect,
    response_type: 'code',
    scope: 'openid profile email',
    state: 'nginx-state',
    nonce: 'nginx-nonce',
    code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  };
  const page = await request(base, `/oidc/authorize?${new URLSearchParams(params)}`);
  assert.equal(page.status, 200, page.body.toString());
  const csrf = /name="csrf" value="([^"]*)"/.exec(page.body.toString())?.[1];
  assert.ok(csrf, 'the sign-in page has a csrf field');
  const cookie = (page.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');

  const form = new URLSearchParams({
    ...params,
    csrf,
    action: 'sign_up',
    email,
    name: 'Nginx Test',
    password: 'correct horse battery staple',
  });
  const signedUp = await request(base, '/oidc/authorize', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: form.toString(),
  });
  assert.ok([302, 303].includes(signedUp.status), `sign-up: ${signedUp.status} ${signedUp.body}`);
  const code = new URL(signedUp.headers.location).searchParams.get('code');
  assert.ok(code, `no code in ${signedUp.headers.location}`);

  const tokens = await request(base, '/oidc/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: kRedirect,
      client_id: kClientId,
      code_verifier: verifier,
    }).toString(),
  });
  assert.equal(tokens.status, 200, tokens.body.toString());
  return JSON.parse(tokens.body.toString()).access_token;
}
