// The outbox: exactly once through lost answers, one sender for several
// tabs, and nothing left behind at sign-out.
import { type Browser, type Page, type Request } from '@playwright/test';
import { test, expect, database, groupWith, person, storedRows, synced, syncStatus } from './helpers';

/** The mutation ids in every POST /api/mutate the server answered. */
function sentIds(pages: Page[]): string[] {
  const ids: string[] = [];
  const record = (request: Request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/mutate') {
      for (const m of request.postDataJSON().mutations) ids.push(m.id);
    }
  };
  for (const page of pages) page.on('requestfinished', record);
  return ids;
}

async function post(page: Page, title: string) {
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Text').fill('body');
  await page.getByRole('button', { name: 'Post' }).click();
  await expect(page.getByRole('region', { name: 'Notice board' })).toContainText(title);
}

async function countNotices(slug: string, title: string): Promise<number> {
  const db = await database();
  try {
    const { rows } = await db.query('SELECT schema_name FROM groups WHERE slug = $1', [slug]);
    const found = await db.query(`SELECT count(*)::int AS n FROM "${rows[0].schema_name}".announcements WHERE title = $1`, [title]);
    return found.rows[0].n;
  } finally {
    await db.end();
  }
}

/** One resident with the notice board of a new group open in two tabs. */
async function twoTabs(browser: Browser): Promise<{ one: Page; two: Page; slug: string }> {
  const one = await person(browser, 'Ann Admin');
  const slug = await groupWith(one, []);
  const two = await one.context().newPage();
  for (const page of [one, two]) {
    await page.goto(`/g/${slug}/announcements`);
    await synced(page);
  }
  return { one, two, slug };
}

test('an answer lost after the server applied a write: the replay is a duplicate, applied once', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);
  const answers: { results: { id: string; status: string }[] }[] = [];
  ann.on('response', async (response) => {
    if (new URL(response.url()).pathname === '/api/mutate') answers.push(await response.json());
  });
  let first = '';
  await ann.route('**/api/mutate', async (route) => {
    if (first) return route.continue();
    first = route.request().postDataJSON().mutations[0].id;
    await route.fetch(); // the server applies it...
    await route.abort('connectionreset'); // ...and the answer never arrives
  });
  await post(ann, 'Boiler service Friday');
  await expect(syncStatus(ann)).toHaveAttribute('data-waiting', '0', { timeout: 40_000 });
  // The page resent the same write; the server knew it.
  expect(answers.map((a) => a.results[0])).toEqual([{ id: first, status: 'duplicate' }]);
  expect(await countNotices(slug, 'Boiler service Friday')).toBe(1);
});

test('two tabs of a group share one outbox and send each write once', async ({ browser }) => {
  const { one, two, slug } = await twoTabs(browser);
  const ids = sentIds([one, two]);
  await one.context().setOffline(true);
  await post(one, 'From the first tab');
  await post(two, 'From the second tab');
  await one.context().setOffline(false);
  for (const page of [one, two]) {
    await expect(syncStatus(page)).toHaveAttribute('data-waiting', '0', { timeout: 40_000 });
    await expect(page.getByRole('region', { name: 'Notice board' })).toContainText('From the first tab');
    await expect(page.getByRole('region', { name: 'Notice board' })).toContainText('From the second tab');
  }
  expect(ids.length).toBe(2);
  expect(new Set(ids).size).toBe(2);
  expect(await countNotices(slug, 'From the first tab')).toBe(1);
  expect(await countNotices(slug, 'From the second tab')).toBe(1);
});

test('a tab that left the group and came back sends once the sending tab closes', async ({ browser }) => {
  const { one, two, slug } = await twoTabs(browser);
  // Tab two leaves the group and comes back without a reload, while tab one
  // holds the sending lock (tab two's first request for it still waits).
  await two.evaluate(() => ((window as unknown as { samePage: boolean }).samePage = true));
  await two.getByRole('link', { name: 'Courtyard' }).click();
  await expect(two.getByRole('heading', { name: 'Your groups' })).toBeVisible();
  await two.getByRole('link', { name: `Group ${slug}` }).click();
  await two.getByRole('navigation', { name: 'Group' }).getByRole('link', { name: 'Notices' }).click();
  await synced(two);
  expect(await two.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);

  await one.close();
  await post(two, 'After the first tab closed');
  await expect(syncStatus(two)).toHaveAttribute('data-waiting', '0', { timeout: 40_000 });
  expect(await countNotices(slug, 'After the first tab closed')).toBe(1);
});

test('signing out forgets the groups this browser holds', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);
  const stored = () => storedRows(ann);
  expect(await stored()).toBeGreaterThan(0);
  await ann.getByRole('button', { name: 'Log out' }).click();
  await expect(ann.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Log in' })).toBeVisible();
  await expect.poll(stored).toBe(0);
});

/** Posts a notice whose fields the form would not allow (set by script),
 * once the last post has been queued and the form cleared (else the clear
 * would empty these fields before the click). */
async function postUnchecked(page: Page, title: string, body: string) {
  await expect(page.getByRole('button', { name: 'Post' })).toBeEnabled();
  await expect(page.locator('#notice-title')).toHaveValue('');
  await page.evaluate(
    ([title, body]) => {
      const form = document.querySelector('#notice-title')!.closest('form')!;
      (form.querySelector('#notice-title') as HTMLInputElement).value = title;
      (form.querySelector('#notice-text') as HTMLTextAreaElement).value = body;
    },
    [title, body],
  );
  await page.getByRole('button', { name: 'Post' }).click();
  await expect(syncStatus(page)).not.toHaveAttribute('data-waiting', '0');
}

test('writes the server refuses as bad input leave the queue, and the writes around them arrive', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);
  await ann.context().setOffline(true);
  // Each queued before the next is written.
  await post(ann, 'Good before');
  await expect(syncStatus(ann)).toHaveAttribute('data-waiting', '1');
  // One too large for any request (413 for its whole batch), one Postgres
  // cannot store (a NUL character: rejected by itself).
  await postUnchecked(ann, 'Huge', 'x'.repeat(3 * 1024 * 1024));
  await expect(syncStatus(ann)).toHaveAttribute('data-waiting', '2');
  await postUnchecked(ann, 'Bad\u0000title', 'body');
  await expect(syncStatus(ann)).toHaveAttribute('data-waiting', '3');
  await expect(ann.locator('#notice-title')).toHaveValue('');
  await post(ann, 'Good after');
  await expect(syncStatus(ann)).toHaveAttribute('data-waiting', '4');
  await ann.context().setOffline(false);
  await expect(syncStatus(ann)).toHaveAttribute('data-waiting', '0', { timeout: 40_000 });
  expect(await countNotices(slug, 'Good before')).toBe(1);
  expect(await countNotices(slug, 'Good after')).toBe(1);
  expect(await countNotices(slug, 'Huge')).toBe(0);
  const notices = ann.locator('.sync-notices');
  await expect(notices.getByRole('alert')).toHaveCount(2);
  await expect(notices).toContainText('too large');
  await expect(notices).toContainText('control characters');
  // Gone for good: a reload does not bring them back.
  await ann.reload();
  await synced(ann);
  await expect(syncStatus(ann)).toHaveAttribute('data-waiting', '0');
  await expect(ann.getByRole('region', { name: 'Notice board' })).not.toContainText('Huge');
});
