import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Built into the server's static files (dist/web), which src/http/web-routes.ts serves at `/`.
// `npm run dev -w web` proxies the API to a Portcullis on :8080.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: Object.fromEntries(['/api', '/oauth', '/.well-known'].map((p) => [p, 'http://127.0.0.1:8080'])),
  },
});
