// The runtime configuration: the server tells the app where to sign in (`GET /ui-config.json`),
// so one build works with the built-in issuer or Keycloak. Without the file, the defaults
// below (the built-in issuer at this origin) apply.
export interface UiConfig {
  authority: string;
  client_id: string;
  scope: string;
  api_base: string;
}

export function defaultConfig(origin: string): UiConfig {
  return {
    authority: origin,
    client_id: 'trellis-web',
    scope: 'openid profile email',
    api_base: '/api/v1',
  };
}

export async function loadConfig(
  origin: string = window.location.origin,
  doFetch: typeof fetch = fetch.bind(globalThis),
): Promise<UiConfig> {
  const defaults = defaultConfig(origin);
  try {
    const response = await doFetch('/ui-config.json', {
      headers: { Accept: 'application/json' },
      cache: 'no-store',
    });
    if (!response.ok) return defaults;
    const body = (await response.json()) as Partial<UiConfig>;
    const pick = (value: unknown, fallback: string) =>
      typeof value === 'string' && value !== '' ? value : fallback;
    return {
      authority: pick(body.authority, defaults.authority),
      client_id: pick(body.client_id, defaults.client_id),
      scope: pick(body.scope, defaults.scope),
      api_base: pick(body.api_base, defaults.api_base),
    };
  } catch {
    return defaults;
  }
}
