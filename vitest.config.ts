import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // libp2p 3 needs Promise.withResolvers (Node 22+): loaded before every test file.
    setupFiles: ['src/polyfills.ts'],
  },
});
