// Vite configuration for the Trellis web app (ADR 0025). TSX is compiled by esbuild (no React
// plugin); the build writes content-hashed files under dist/assets/, and the dev server proxies
// the API, the issuer and /ui-config.json to a running `trellis serve` (TRELLIS_PORT, 8080).
/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

const target = `http://127.0.0.1:${process.env.TRELLIS_PORT ?? '8080'}`;
const proxied = ['/api', '/oidc', '/.well-known', '/console', '/ui-config.json'];

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: true,
    // The strict CSP (script-src 'self') forbids inline scripts: no modulepreload polyfill.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      output: {
        // Libraries change less often than the app: their own hashed files stay cached.
        manualChunks: {
          react: ['react', 'react-dom', 'react-dom/client', 'react-router'],
          vendor: ['axios', 'oidc-client-ts'],
        },
      },
      onwarn(warning, warn) {
        // react-router's "use client" directive means nothing without server components.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: Object.fromEntries(proxied.map((p) => [p, { target, changeOrigin: false }])),
  },
  preview: {
    host: '127.0.0.1',
    port: 4173,
    proxy: Object.fromEntries(proxied.map((p) => [p, { target, changeOrigin: false }])),
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./vitest.setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
