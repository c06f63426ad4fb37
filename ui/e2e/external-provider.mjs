// A third-party OpenID Connect provider (panva/oidc-provider, the copy installed for the interop
// test in tests/interop/oidc-provider) on loopback, for external-issuer.mjs: the web app signs
// in with it instead of Trellis's built-in issuer, by configuration only.
//
//   node e2e/external-provider.mjs <trellis origin> [port]   # port 0 (the default): a free one
//   -> stdout, one JSON line once listening: {"port":N,"issuer":"http://127.0.0.1:N"}
//
// One public client, trellis-web (authorization code + PKCE, refresh tokens, redirects back to
// <trellis origin>), the provider's own development login form (any login and password), and
// JWT access tokens (ES256, typ at+jwt) for the resource urn:trellis:api with the audience
// trellis-api, asked for by default since the web app names no resource. The access token
// carries email, email_verified and name, as Keycloak's do: Trellis reads them from it.
// Everything else is logged to stderr; stdout carries only the line above.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from '../../tests/interop/oidc-provider/node_modules/oidc-provider/lib/index.js';

const kClientId = 'trellis-web';
const kResource = 'urn:trellis:api';
const kAudience = 'trellis-api';

const trellisOrigin = process.argv[2];
if (!trellisOrigin || !/^https?:\/\/[^/]+$/.test(trellisOrigin)) {
  console.error(
    'usage: node external-provider.mjs <trellis origin, e.g. http://127.0.0.1:8080> [port]',
  );
  process.exit(2);
}
const port = Number(process.argv[3] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`bad port: ${process.argv[3]}`);
  process.exit(2);
}

const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: 'external-es256',
  use: 'sig',
  alg: 'ES256',
};

// The development login form takes any login; it becomes the account id, and an email when it
// looks like one.
function accountClaims(accountId) {
  const email = accountId.includes('@') ? accountId : `${accountId}@example.com`;
  const local = email.split('@')[0];
  return {
    sub: accountId,
    email,
    email_verified: true,
    name: local.charAt(0).toUpperCase() + local.slice(1) + ' External',
  };
}

const server = http.createServer();
server.listen(port, '127.0.0.1', () => {
  const bound = server.address().port;
  const issuer = `http://127.0.0.1:${bound}`;
  const provider = new Provider(issuer, {
    jwks: { keys: [signingJwk] },
    clients: [
      {
        client_id: kClientId,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [`${trellisOrigin}/auth/callback`],
        post_logout_redirect_uris: [`${trellisOrigin}/`],
      },
    ],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    findAccount: (ctx, accountId) => ({
      accountId,
      claims: () => accountClaims(accountId),
    }),
    // The browser calls the token endpoint: only from Trellis's origin.
    clientBasedCORS: (ctx, origin) => origin === trellisOrigin,
    // A refresh token whenever the client may use one: without prompt=consent, which the web app
    // does not send, oidc-provider drops offline_access from the request.
    issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Access tokens for the API carry the user's profile, as Keycloak's do.
    extraTokenClaims: (ctx, token) => {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const { email, email_verified, name } = accountClaims(token.accountId);
      return { email, email_verified, name };
    },
    features: {
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // The web app names no resource: it gets Trellis's API, and so does its refresh.
        defaultResource: () => kResource,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== kResource) throw new Provider.errors.InvalidTarget();
          return {
            audience: kAudience,
            scope: 'api',
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message));
  provider.on('authorization.error', (ctx, err) => console.error('authorization.error', err));
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ port: bound, issuer })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
