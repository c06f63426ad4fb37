import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from './config';

describe('loadConfig', () => {
  it('uses the built-in issuer at this origin when /ui-config.json is missing', async () => {
    const fetchMock = vi.fn(async () => new Response('not found', { status: 404 }));
    const config = await loadConfig('http://127.0.0.1:8080', fetchMock as unknown as typeof fetch);
    expect(config).toEqual({
      authority: 'http://127.0.0.1:8080',
      client_id: 'trellis-web',
      scope: 'openid profile email',
      api_base: '/api/v1',
    });
  });

  it('takes the server values (Keycloak: another authority and client)', async () => {
    const body = { authority: 'https://kc.example/realms/trellis', client_id: 'web', scope: '' };
    const fetchMock = vi.fn(async () => Response.json(body));
    const config = await loadConfig('http://x', fetchMock as unknown as typeof fetch);
    expect(config.authority).toBe('https://kc.example/realms/trellis');
    expect(config.client_id).toBe('web');
    expect(config.scope).toBe('openid profile email');
    expect(config.api_base).toBe('/api/v1');
  });

  it('falls back to the defaults when the request fails', async () => {
    const fetchMock = vi.fn(async () => {
      throw new TypeError('offline');
    });
    const config = await loadConfig('http://y', fetchMock as unknown as typeof fetch);
    expect(config.authority).toBe('http://y');
  });
});
