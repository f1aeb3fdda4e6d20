import { test as base, expect, type Browser, type BrowserContext, type Page } from '@playwright/test';

/**
 * Playwright's `test`, watching every page a test opens (through `browser`
 * or its own `context`): a test fails if the browser reports a
 * Content-Security-Policy violation or an uncaught error (a WASM panic
 * included), so the app is known to work under its CSP. The contexts a test
 * opens through `browser` are closed when it ends: the browser lives for the
 * whole run, and earlier tests' pages would otherwise go on syncing.
 */
export const test = base.extend<{ browserLog: { watch: (page: Page) => void } }>({
  browserLog: [
    async ({ browser }, use) => {
      const problems: string[] = [];
      const opened: BrowserContext[] = [];
      const watch = (page: Page) => {
        page.on('console', (message) => {
          if (/content.security.policy/i.test(message.text())) problems.push(`CSP, ${page.url()}: ${message.text()}`);
        });
        page.on('pageerror', (error) => problems.push(`uncaught, ${page.url()}: ${error.message}`));
      };
      const newContext = browser.newContext;
      browser.newContext = async (...args: Parameters<Browser['newContext']>) => {
        const context = await newContext.apply(browser, args);
        context.on('page', watch);
        opened.push(context);
        return context;
      };
      await use({ watch });
      browser.newContext = newContext;
      await Promise.allSettled(opened.map((context) => context.close()));
      expect(problems, 'what the browser reported').toEqual([]);
    },
    { auto: true },
  ],
  context: async ({ context, browserLog }, use) => {
    context.on('page', browserLog.watch);
    await use(context);
  },
});
export { expect };

/** A short tag that keeps each test's people and groups apart. */
export function tag(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Waits until the WASM has hydrated the page (see frontend/src/lib.rs). */
export async function hydrated(page: Page) {
  await page.locator('body[data-hydrated]').waitFor();
}

/** A person in their own browser context, signed up through the API. */
export async function person(browser: Browser, name: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  const email = `${name.toLowerCase().replace(/\W+/g, '-')}-${tag()}@example.org`;
  const response = await page.request.post('/api/auth/signup', {
    data: { email, password: 'correct horse', name },
  });
  expect(response.status()).toBe(201);
  return page;
}

/** Creates a group as `admin` and has `residents` join it; returns its slug. */
export async function groupWith(admin: Page, residents: Page[]): Promise<string> {
  const slug = `g-${tag()}`;
  const created = await admin.request.post('/api/groups', { data: { slug, name: `Group ${slug}` } });
  expect(created.status()).toBe(201);
  for (const resident of residents) {
    const invite = await admin.request.post(`/api/groups/${slug}/invites`);
    const { code } = await invite.json();
    expect((await resident.request.post(`/api/invites/${code}/accept`)).status()).toBe(200);
  }
  return slug;
}

/** `YYYY-MM-DD` of the day `days` from now, in the browser's zone. */
export async function dayFromNow(page: Page, days: number): Promise<string> {
  return page.evaluate((days) => {
    const d = new Date(Date.now() + days * 86_400_000);
    const pad = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }, days);
}

/** A Postgres client on the server's database (for checks the UI cannot make). */
export async function database() {
  const { default: pg } = await import('pg');
  const db = new pg.Client({ connectionString: process.env.COURTYARD_DATABASE_URL });
  await db.connect();
  return db;
}

/** Ends every resident's membership of group `slug`, behind the app's back. */
export async function removeResidents(slug: string) {
  const db = await database();
  try {
    await db.query(
      `DELETE FROM memberships WHERE role = 'resident' AND group_id = (SELECT id FROM groups WHERE slug = $1)`,
      [slug],
    );
  } finally {
    await db.end();
  }
}

/** Waits until the service worker keeps `path` for offline use. */
export async function keptOffline(page: Page, path: string) {
  await expect
    .poll(() => page.evaluate(async (p) => !!(await caches.match(p, { ignoreVary: true })), path), { timeout: 20_000 })
    .toBe(true);
}

/** The page's sync indicator. */
export function syncStatus(page: Page) {
  return page.getByRole('status', { name: 'Sync' });
}

/** Waits until the page has caught up with the server at least once. */
export async function synced(page: Page) {
  await hydrated(page);
  await expect(syncStatus(page)).toContainText('synced');
}

/** How many entries the page's browser keeps in an IndexedDB store (the synced rows by default). */
export async function storedRows(page: Page, store = 'rows'): Promise<number> {
  // The page may be moving on (signed out, the app goes to the login page):
  // read again once it has.
  for (;;) {
    try {
      return await countRows(page, store);
    } catch (error) {
      if (!String(error).includes('Execution context was destroyed')) throw error;
      await page.waitForLoadState();
    }
  }
}

function countRows(page: Page, store: string): Promise<number> {
  return page.evaluate(
    (store) =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('courtyard');
        // Not there yet: do not create it (an empty database would lack the app's stores).
        open.onupgradeneeded = () => open.transaction?.abort();
        open.onerror = () => resolve(0);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains(store)) return (db.close(), resolve(0));
          const count = db.transaction(store).objectStore(store).count();
          count.onsuccess = () => (db.close(), resolve(count.result));
          count.onerror = () => (db.close(), reject(count.error));
        };
      }),
    store,
  );
}

/** Puts `count` notices on a group's board straight into Postgres, newest
 * first by number ("notice 1" is the newest). */
export async function seedNotices(slug: string, count: number) {
  const db = await database();
  try {
    const { rows } = await db.query('SELECT schema_name FROM groups WHERE slug = $1', [slug]);
    await db.query(
      `INSERT INTO "${rows[0].schema_name}".announcements (id, author_id, title, body, created_at)
       SELECT gen_random_uuid(), gen_random_uuid(), 'notice ' || i, repeat('text ', 20), now() - i * interval '1 minute'
       FROM generate_series(1, $1) i`,
      [count],
    );
  } finally {
    await db.end();
  }
}

/** A message the test SMTP server (scripts/smtp-sink) received. */
export interface Mail {
  envelope_to: string[];
  subject: string;
  headers: Record<string, string>;
  text: string;
  html: string;
}

/** Waits until `count` messages to `to` have arrived (read from
 * COURTYARD_MAIL_DIR, where scripts/test's SMTP server writes them). */
export async function mailTo(to: string, count = 1): Promise<Mail[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const dir = process.env.COURTYARD_MAIL_DIR;
  if (!dir) throw new Error('COURTYARD_MAIL_DIR is not set: run the suite with scripts/test');
  const read = () =>
    readdirSync(dir)
      .filter((name) => name.endsWith('.json') && !name.startsWith('.'))
      .sort()
      .map((name) => JSON.parse(readFileSync(`${dir}/${name}`, 'utf8')) as Mail)
      .filter((mail) => mail.envelope_to.includes(to));
  await expect.poll(() => read().length, { timeout: 20_000, message: `mail to ${to}` }).toBeGreaterThanOrEqual(count);
  return read();
}

/** The site path of the link in `mail` starting with `prefix` ('/reset/'). */
export function linkIn(mail: Mail, prefix: string): string {
  const found = mail.text.match(new RegExp(`${prefix}[0-9a-f]+`));
  if (!found) throw new Error(`no ${prefix} link in ${mail.text}`);
  return found[0];
}
