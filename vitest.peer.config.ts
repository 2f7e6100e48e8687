import { defineConfig } from 'vitest/config';

/** The tests against a real cloud on this machine (`npm run test:openstack`); never part of `npm test`. */
export default defineConfig({
  test: {
    include: ['test/peer/**/*.peer.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    testTimeout: 600_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
