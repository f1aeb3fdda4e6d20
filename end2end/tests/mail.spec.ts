// Email from a group: a resident with a confirmed address gets a pinned
// notice by mail, stops notices with the message's unsubscribe link, then
// chooses again on the Members page, with the keyboard only.
import { type Page } from '@playwright/test';
import { test, expect, database, groupWith, hydrated, linkIn, mailTo, person } from './helpers';

async function write(page: Page, slug: string, name: string, args: object) {
  const mutations = [{ id: crypto.randomUUID(), name, args }];
  const written = await page.request.post('/api/mutate', { data: { group: slug, mutations } });
  expect(written.status()).toBe(200);
  expect((await written.json()).results[0].status).toBe('applied');
}

async function pin(page: Page, slug: string, title: string) {
  const id = crypto.randomUUID();
  await write(page, slug, 'announcement.create', { id, title, body: `${title}: details inside.` });
  await write(page, slug, 'announcement.pin', { id, pinned: true });
}

/** Waits until the notification job has met the group (news before is not mailed). */
async function watched(slug: string) {
  const db = await database();
  try {
    const met = async () =>
      (await db.query('SELECT 1 FROM notify_cursors c JOIN groups g ON g.id = c.group_id WHERE g.slug = $1', [slug]))
        .rowCount;
    await expect.poll(met, { timeout: 20_000 }).toBe(1);
  } finally {
    await db.end();
  }
}

test('a pinned notice arrives by mail, one click stops it, the Members page brings it back', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const email = (await (await bo.request.get('/api/me')).json()).user.email;
  const token = linkIn((await mailTo(email))[0], '/verify/').replace('/verify/', '');
  expect((await bo.request.post('/api/auth/verify', { data: { token } })).status()).toBe(200);
  const slug = await groupWith(ann, [bo]);
  await watched(slug);

  await pin(ann, slug, 'Water off Monday');
  const [notice] = (await mailTo(email, 2)).filter((m) => m.subject.includes('Pinned: Water off Monday'));
  expect(notice.text).toContain('Water off Monday: details inside.');
  expect(notice.headers['List-Unsubscribe']).toMatch(/^<https?:\/\/[^>]+\/api\/unsubscribe\/[0-9a-f]{64}>$/);
  expect(notice.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');

  // The link in the message asks first; the keyboard confirms.
  await bo.goto(linkIn(notice, '/unsubscribe/'));
  await hydrated(bo);
  await expect(bo.getByText(/^Stop emails about new notices .* from Group /)).toBeVisible();
  const stop = bo.getByRole('button', { name: 'Stop these emails' });
  await stop.focus();
  await bo.keyboard.press('Enter');
  await expect(bo.getByRole('status')).toContainText('You will no longer get emails about new notices');

  // The Members page shows it; Bo turns notices back on and requests off.
  await bo.getByRole('link', { name: 'Email from this group' }).focus();
  await bo.keyboard.press('Enter');
  await expect(bo).toHaveURL(new RegExp(`/g/${slug}/members#mail$`));
  await hydrated(bo);
  const notices = bo.getByLabel(/Email me about new notices/);
  const requests = bo.getByLabel(/Email me about news on requests/);
  await expect(notices).not.toBeChecked();
  await expect(requests).toBeChecked();
  await notices.focus();
  await bo.keyboard.press('Space');
  await bo.keyboard.press('Tab');
  await expect(requests).toBeFocused();
  await bo.keyboard.press('Space');
  await bo.getByRole('button', { name: 'Save email choices' }).focus();
  await bo.keyboard.press('Enter');
  await expect(bo.locator('#mail').getByRole('status')).toHaveText('Saved.');
  await bo.reload();
  await expect(notices).toBeChecked();
  await expect(requests).not.toBeChecked();

  // Ann comments on Bo's request (requests are off), then pins a notice:
  // the notice comes, the comment (earlier in the log) never does.
  const request = crypto.randomUUID();
  await write(bo, slug, 'request.create', { id: request, title: 'Door sticks', description: 'Front door.' });
  await write(ann, slug, 'request.comment', { id: crypto.randomUUID(), request_id: request, body: 'Oiled it.' });
  await pin(ann, slug, 'Boiler service');
  const mail = await mailTo(email, 3);
  expect(mail.map((m) => m.subject).filter((s) => s.startsWith('['))).toEqual([
    expect.stringContaining('Pinned: Water off Monday'),
    expect.stringContaining('Pinned: Boiler service'),
  ]);
});
