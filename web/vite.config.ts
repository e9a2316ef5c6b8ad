// The dashboard's bundle: web/ -> dist/dashboard/ (scripts/ensure-build.mjs runs `vite build`
// with this config). `npm run dev:web` serves it with hot reload and sends the API to a gateway
// on 127.0.0.1:8080 (FLOWBUS_DEV_API to change it).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const api = process.env.FLOWBUS_DEV_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact', legalComments: 'none' },
  build: { target: 'es2020', assetsDir: 'assets', sourcemap: false, reportCompressedSize: false, modulePreload: { polyfill: false } },
  server: { proxy: { '/api': { target: api, changeOrigin: true }, '/healthz': api, '/readyz': api, '/docs': api } },
});
