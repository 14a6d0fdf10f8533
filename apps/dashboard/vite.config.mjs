// Owns: how Vite builds the dashboard — served by the API under /ui/, into dist/ui — and the dev server's proxy to a
// running API. Must not: decide whether to build (scripts/build.mjs does).
// @ts-check
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/ui/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist/ui',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    // `npm run dev -w apps/dashboard` beside `npm start`: the page's API calls go to the API on its default port.
    proxy: Object.fromEntries(['/v1', '/v2', '/v2.0', '/ui/session.json'].map((path) => [path, 'http://127.0.0.1:8080'])),
  },
});
