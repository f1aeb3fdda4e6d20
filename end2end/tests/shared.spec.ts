// A shared computer: after one resident signs out, the next person on the
// same browser sees nothing of theirs, online or offline, and the first
// one's queued write is never sent under the second one's session (it is
// sent, as theirs, when they sign in there again).
import { type Page } from '@playwright/test';
import { test, expect, database, groupWith, hydrated, keptOffline, storedRows, synced, syncStatus, tag } from './helpers';

async function signUp(page: Page, name: string): Promise<string> {
  const email = `${name.toLowerCase().replace(/\W+/g, '-')}-${tag()}@example.org`;
  await page.goto('/signup');
  await hydrated(page);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByRole('navigation', { name: 'Account' })).toContainText(name);
  return email;
}

async function authorsOf(slug: string, title: string): Promise<string[]> {
  const db = await database();
  try {
    const { rows } = await db.query('SELECT schema_name FROM groups WHERE slug = $1', [slug]);
    const found = await db.query(
      `SELECT u.name FROM "${rows[0].schema_name}".announcements a JOIN users u ON u.id = a.author_id WHERE a.title = $1`,
      [title],
    );
    return found.rows.map((r) => r.name);
  } finally {
    await db.end();
  }
}

test('the next person on a shared browser sees nothing of the last one, online or offline', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const annEmail = await signUp(page, 'Ann Shared');
  const slug = await groupWith(page, []);
  const visited = ['', '/announcements', '/requests', '/bookings', '/members'].map((p) => `/g/${slug}${p}`);
  for (const path of visited) {
    await page.goto(path);
    await synced(page);
  }
  for (const path of visited) await keptOffline(page, path);

  // A write that cannot reach the server yet, then Ann signs out.
  await page.goto(visited[1]);
  await synced(page);
  await page.route('**/api/mutate', (route) => route.abort());
  await page.getByLabel('Title').fill('Ann private note');
  await page.getByLabel('Text').fill('for Ann only');
  await page.getByRole('button', { name: 'Post' }).click();
  await expect(syncStatus(page)).toHaveAttribute('data-waiting', '1');
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Log in' })).toBeVisible();
  await page.unroute('**/api/mutate');

  // Bo signs up on the same browser, goes offline, and opens Ann's pages.
  await signUp(page, 'Bo Next');
  await context.setOffline(true);
  for (const path of visited) {
    await page.goto(path);
    await expect(page.getByRole('heading', { name: 'You are offline' })).toBeVisible();
    const text = await page.locator('body').innerText();
    expect(text).not.toContain(`Group ${slug}`);
    expect(text).not.toContain('Ann');
  }
  expect(await storedRows(page)).toBe(0);
  await context.setOffline(false);

  // Online, as Bo: Ann's write was not sent under his session.
  await page.goto('/');
  await expect(page.getByRole('navigation', { name: 'Account' })).toContainText('Bo Next');
  await page.waitForTimeout(3_000);
  expect(await authorsOf(slug, 'Ann private note')).toEqual([]);

  // Ann signs in here again: her write goes, as hers.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Log in' })).toBeVisible();
  await page.goto(`/login?next=${encodeURIComponent(visited[1])}`);
  await hydrated(page);
  await page.getByLabel('Email').fill(annEmail);
  await page.getByLabel('Password').fill('correct horse');
  await page.getByRole('button', { name: 'Log in' }).click();
  await synced(page);
  await expect(syncStatus(page)).toHaveAttribute('data-waiting', '0', { timeout: 40_000 });
  await expect.poll(() => authorsOf(slug, 'Ann private note')).toEqual(['Ann Shared']);
  await context.close();
});
