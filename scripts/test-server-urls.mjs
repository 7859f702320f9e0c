// Where the test suites find Postgres and Redis. test/support/servers.ts reads them from here,
// and scripts/test-servers.mjs checks them before a test run (starting private servers and
// setting these variables when nothing answers), so the defaults live in this one file.
export const PG_ENV = 'CONCORD_TEST_PG'
export const REDIS_ENV = 'CONCORD_TEST_REDIS'

/** The standard local servers, unless the environment names others. */
export function testServerUrls(env = process.env) {
  return {
    pg: env[PG_ENV] || 'postgres://postgres@127.0.0.1:5432/test',
    redis: env[REDIS_ENV] || 'redis://127.0.0.1:6379',
  }
}
