// Long lists: the board renders a page of notices (on the server and from
// the local copy) and grows on request; a notice being edited stays open
// while others arrive.
import { test, expect, groupWith, person, seedNotices, synced } from './helpers';

test('the notice board shows 50 notices at a time, newest first', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  await seedNotices(slug, 120);

  // The server's rendering holds the first page only, and so does the data
  // it carries for hydration.
  const html = await (await ann.request.get(`/g/${slug}/announcements`)).text();
  expect(html.match(/<li class="notice/g)?.length).toBe(50);
  expect(html).not.toContain('notice 120');

  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);
  await expect(ann.locator('[aria-label="Sync"]')).toHaveAttribute('data-local', 'true');
  const notices = ann.locator('.notice');
  await expect(notices).toHaveCount(50);
  await expect(notices.first().locator('h3')).toHaveText('notice 1');
  await expect(notices.last().locator('h3')).toHaveText('notice 50');

  await ann.getByRole('button', { name: 'Show more' }).click();
  await expect(notices).toHaveCount(100);
  await ann.getByRole('button', { name: 'Show more' }).click();
  await expect(notices).toHaveCount(120);
  await expect(notices.last().locator('h3')).toHaveText('notice 120');
  await expect(ann.getByRole('button', { name: /Show more/ })).toHaveCount(0);
});

test('without IndexedDB, "Show more" fetches the notices the page left out', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  await seedNotices(slug, 120);
  await ann.addInitScript(() => Object.defineProperty(window, 'indexedDB', { get: () => undefined }));

  await ann.goto(`/g/${slug}/announcements`);
  await ann.locator('body[data-hydrated]').waitFor();
  const notices = ann.locator('.notice');
  await expect(notices).toHaveCount(50);
  await ann.getByRole('button', { name: 'Show more' }).click();
  await expect(notices).toHaveCount(100);
  await expect(notices.last().locator('h3')).toHaveText('notice 100');
  await ann.getByRole('button', { name: 'Show more' }).click();
  await expect(notices).toHaveCount(120);
  await expect(ann.locator('[aria-label="Sync"]')).not.toHaveAttribute('data-local', 'true');
  // The sync indicator says why, and what it means.
  await expect(ann.locator('[aria-label="Sync"] [data-trouble]')).toContainText('keeps no copy of the group');
});

test('an open edit form survives a new notice arriving', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);
  await seedNotices(slug, 3);
  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);

  await ann.locator('.notice').filter({ hasText: 'notice 1' }).getByRole('button', { name: 'Edit' }).click();
  const editing = ann.locator('form.edit').getByLabel('Title');
  await editing.fill('notice 1, half edited');

  await bo.goto(`/g/${slug}/announcements`);
  await synced(bo);
  await bo.getByLabel('Title').fill('Lift out of order');
  await bo.getByLabel('Text').fill('Engineer comes Monday.');
  await bo.getByRole('button', { name: 'Post' }).click();

  await expect(ann.locator('.notice').first().locator('h3')).toHaveText('Lift out of order');
  await expect(editing).toHaveValue('notice 1, half edited');
});
