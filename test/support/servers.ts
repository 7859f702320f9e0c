/**
 * The Postgres and Redis the suites run against: the one place they read them
 * from. CONCORD_TEST_PG and CONCORD_TEST_REDIS choose them, else the machine's
 * standard local servers; scripts/test-servers.mjs sets both when it starts
 * private servers. The defaults live in scripts/test-server-urls.mjs, which
 * that script checks before a run (tests always run compiled, from
 * test/dist/support, hence the path).
 */
interface TestServerUrls {
  pg: string
  redis: string
}
const { testServerUrls } = (await import(new URL('../../../scripts/test-server-urls.mjs', import.meta.url).href)) as {
  testServerUrls: (env: NodeJS.ProcessEnv) => TestServerUrls
}
const urls = testServerUrls(process.env)

/** A database the suites may create schemas in (trust or URL credentials). */
export const TEST_PG_URL = urls.pg
/** A Redis the suites share with others: every suite keeps to its own key prefix. */
export const TEST_REDIS_URL = urls.redis
/** Where TEST_REDIS_URL listens, for a TCP proxy in front of it. */
export const TEST_REDIS_ADDRESS = { host: new URL(urls.redis).hostname || '127.0.0.1', port: Number(new URL(urls.redis).port || 6379) }
