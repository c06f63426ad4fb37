// A real third-party OpenID Connect provider (panva/oidc-provider) on loopback, for Trellis's
// interop test (tests/interop/oidc_provider_interop_test.cpp). Nothing here is Trellis code: the
// point is that Trellis verifies tokens minted by an issuer it did not write.
//
//   node server.mjs [port]        # or PORT=...; 0 (the default) picks a free port
//   -> stdout, one JSON line once listening: {"port":N,"issuer":"http://127.0.0.1:N"}
//
// The provider signs with a fresh ES256 key (the only algorithm Trellis accepts), has one
// confidential client (client_credentials, client_secret_basic) and two resource servers found
// by resource indicator (RFC 8707): urn:trellis:api (audience "trellis-api") and
// urn:other:api (audience "other-api"), both issuing JWT access tokens (header typ "at+jwt").
// Everything else is logged to stderr; stdout carries only the line above.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const CLIENT_ID = 'trellis-interop';
const CLIENT_SECRET = 'interop-secret-0123456789abcdef';
const KID = 'interop-es256';

const resourceServers = {
  'urn:trellis:api': { audience: 'trellis-api', scope: 'api' },
  'urn:other:api': { audience: 'other-api', scope: 'api' },
};

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`bad port: ${process.argv[2] ?? process.env.PORT}`);
  process.exit(2);
}

const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: KID, use: 'sig', alg: 'ES256' };

// Discovery and JWKS fetches, counted so the test can see Trellis caching keys.
const fetches = { discovery: 0, jwks: 0 };

let provider;
let issuer;

// TEST AID, not part of any OIDC flow: a JWT signed with the provider's own key and otherwise
// valid claims (iss, aud "trellis-api", sub, exp), with the header typ asked for. With
// typ "JWT" it stands for the non-access tokens a provider signs (ID tokens, logout tokens),
// which a client_credentials client cannot obtain without a browser; with typ "at+jwt" it is the
// control showing that only the typ differs.
function testAidToken(typ) {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'ES256', typ, kid: KID };
  const payload = {
    iss: issuer,
    aud: 'trellis-api',
    sub: `test-aid-${typ.replace(/[^a-z]/gi, '')}`,
    client_id: CLIENT_ID,
    iat: now,
    exp: now + 600,
  };
  const input = [header, payload]
    .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
    .join('.');
  const signature = crypto.sign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

function handle(req, res) {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/test-aid/jwt' && req.method === 'GET') {
    const body = JSON.stringify({ token: testAidToken(url.searchParams.get('typ') ?? 'JWT') });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    return;
  }
  if (url.pathname === '/test-aid/fetches' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(fetches));
    return;
  }
  if (url.pathname === '/.well-known/openid-configuration') fetches.discovery += 1;
  if (url.pathname === '/jwks') fetches.jwks += 1;
  provider.callback()(req, res);
}

const server = http.createServer((req, res) => handle(req, res));
server.listen(port, '127.0.0.1', () => {
  const bound = server.address().port;
  issuer = `http://127.0.0.1:${bound}`;
  provider = new Provider(issuer, {
    jwks: { keys: [signingJwk] },
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // A resource must be named; an unknown one is invalid_target.
        defaultResource: () => undefined,
        getResourceServerInfo: (ctx, resource) => {
          const known = resourceServers[resource];
          if (!known) throw new Provider.errors.InvalidTarget();
          return { ...known, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
        },
      },
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  process.stdout.write(`${JSON.stringify({ port: bound, issuer })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
