// What is new: a resident sees new notices and news on the requests they
// follow on the group's home; looking marks them seen, on every device of
// theirs, offline too.
import { type Page } from '@playwright/test';
import { test, expect, groupWith, keptOffline, person, synced } from './helpers';

async function write(page: Page, slug: string, name: string, args: object) {
  const mutations = [{ id: crypto.randomUUID(), name, args }];
  const written = await page.request.post('/api/mutate', { data: { group: slug, mutations } });
  expect(written.status()).toBe(200);
  expect((await written.json()).results[0].status).toBe('applied');
}

test('what is new shows on the home page until looked at, on every device', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);
  const request = crypto.randomUUID();
  await write(bo, slug, 'request.create', { id: request, title: 'Gate hinge broken', description: 'Squeaks.' });
  await write(ann, slug, 'announcement.create', { id: crypto.randomUUID(), title: 'Lift out of order', body: 'Until Friday.' });
  await write(ann, slug, 'request.comment', { id: crypto.randomUUID(), request_id: request, body: 'Ordered a part.' });

  await bo.goto(`/g/${slug}`);
  await synced(bo);
  const news = bo.locator('p.news');
  await expect(news).toHaveText('Since you last looked: 1 new notice, 1 request with news.');
  await expect(bo.locator('li', { hasText: 'Lift out of order' }).locator('.badge.new')).toHaveCount(1);
  await expect(bo.locator('li', { hasText: 'Gate hinge broken' }).locator('.badge.new')).toHaveCount(1);

  // Bo's phone: the same news.
  const email = (await (await bo.request.get('/api/me')).json()).user.email;
  const phone = await (await browser.newContext()).newPage();
  const login = await phone.request.post('/api/auth/login', { data: { email, password: 'correct horse' } });
  expect(login.status()).toBe(200);
  await phone.goto(`/g/${slug}`);
  await synced(phone);
  await expect(phone.locator('p.news')).toHaveText('Since you last looked: 1 new notice, 1 request with news.');

  // Bo reads the notices with no network: new for this visit, then seen.
  await keptOffline(bo, `/g/${slug}/announcements`);
  await bo.context().setOffline(true);
  await bo.goto(`/g/${slug}/announcements`);
  await expect(bo.locator('li.notice', { hasText: 'Lift out of order' }).locator('.badge.new')).toHaveCount(1);
  await bo.goto(`/g/${slug}`);
  await expect(news).toHaveText('Since you last looked: 1 request with news.');
  await bo.context().setOffline(false);

  // The phone learns it once the laptop is back online.
  await expect(phone.locator('p.news')).toHaveText('Since you last looked: 1 request with news.', { timeout: 30_000 });
  // Bo opens the request on the phone: seen everywhere.
  await phone.goto(`/g/${slug}/requests/${request}`);
  await synced(phone);
  await expect(phone.getByRole('heading', { name: 'Gate hinge broken' })).toBeVisible();
  await phone.goto(`/g/${slug}`);
  await synced(phone);
  await expect(phone.getByRole('heading', { name: 'Notices' })).toBeVisible();
  await expect(phone.locator('p.news')).toHaveCount(0);
  await expect(news).toHaveCount(0, { timeout: 30_000 });

  // Bo's own comment is no news to Bo; Ann's next one is.
  await write(bo, slug, 'request.comment', { id: crypto.randomUUID(), request_id: request, body: 'Thanks!' });
  await write(ann, slug, 'request.comment', { id: crypto.randomUUID(), request_id: request, body: 'Fixed.' });
  await expect(news).toHaveText('Since you last looked: 1 request with news.', { timeout: 30_000 });
});
