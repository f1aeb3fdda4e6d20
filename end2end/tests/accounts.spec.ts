import { test, expect, hydrated, mailTo, linkIn, person, synced, storedRows, tag } from './helpers';

test('a resident forgets the password, resets it from the email and signs in', async ({ browser }) => {
  const me = await person(browser, 'Dana');
  const email = await me.request.get('/api/me').then(async (r) => (await r.json()).user.email as string);

  const page = await (await browser.newContext()).newPage();
  await page.goto('/login');
  await hydrated(page);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send me a link' }).click();
  await expect(page.getByRole('status')).toContainText('a link to choose a new password is on its way');

  const reset = (await mailTo(email, 2)).find((mail) => mail.subject === 'Reset your Courtyard password')!;
  await page.goto(linkIn(reset, '/reset/'));
  await hydrated(page);
  await page.getByLabel('New password').fill('a brand new staple');
  await page.getByRole('button', { name: 'Set the password' }).click();
  await expect(page.getByRole('heading', { name: 'Your groups' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Dana' })).toBeVisible();
  // The session the account had elsewhere ended.
  expect((await me.request.get('/api/me')).status()).toBe(401);

  // Signed out, the new password signs in; the link does not work twice.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('a brand new staple');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { name: 'Your groups' })).toBeVisible();
  await page.goto(linkIn(reset, '/reset/'));
  await hydrated(page);
  await page.getByLabel('New password').fill('yet another staple');
  await page.getByRole('button', { name: 'Set the password' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'expired or was already used' })).toBeVisible();
});

test('an admin invites by email, promotes, demotes and removes the invitee, then closes the group and exports it', async ({
  browser,
}) => {
  const ann = await person(browser, 'Ann');
  const slug = `g-${tag()}`;
  const groupName = `Group ${slug}`;
  expect((await ann.request.post('/api/groups', { data: { slug, name: groupName } })).status()).toBe(201);
  const ivyEmail = `ivy-${tag()}@example.org`;
  // Ann confirms her own address first (only then does she invite by email).
  const annEmail = await ann.request.get('/api/me').then(async (r) => (await r.json()).user.email as string);
  const token = linkIn((await mailTo(annEmail))[0], '/verify/').replace('/verify/', '');
  expect((await ann.request.post('/api/auth/verify', { data: { token } })).status()).toBe(200);

  // Ann invites Ivy by email from the Members page.
  await ann.goto(`/g/${slug}/members`);
  await synced(ann);
  await ann.getByLabel('Their email').fill(ivyEmail);
  await ann.getByRole('button', { name: 'Send an invitation' }).click();
  await expect(ann.getByRole('status').filter({ hasText: `Invitation sent to ${ivyEmail}` })).toBeVisible();
  await expect(ann.locator('.open-invites')).toContainText(`To ${ivyEmail}`);

  // Ivy signs up from the emailed link, verifies her address, and joins.
  const invitation = (await mailTo(ivyEmail))[0];
  expect(invitation.subject).toContain(groupName);
  const ivy = await (await browser.newContext()).newPage();
  await ivy.goto(linkIn(invitation, '/join/'));
  await ivy.locator('#main').getByRole('link', { name: 'Sign up' }).click();
  await hydrated(ivy);
  await ivy.getByLabel('Your name').fill('Ivy');
  await ivy.getByLabel('Email').fill(ivyEmail);
  await ivy.getByLabel('Password').fill('correct horse');
  await ivy.getByRole('button', { name: 'Sign up' }).click();
  await expect(ivy.getByRole('complementary', { name: 'Confirm your email' })).toBeVisible();
  await hydrated(ivy);
  await ivy.getByRole('button', { name: `Join ${groupName}` }).click();
  await expect(ivy.getByRole('alert').filter({ hasText: 'confirm your email first' })).toBeVisible();
  const verification = (await mailTo(ivyEmail, 2)).find((mail) => mail.subject === 'Confirm your email for Courtyard')!;
  await ivy.goto(linkIn(verification, '/verify/'));
  await hydrated(ivy);
  await ivy.getByRole('button', { name: 'Confirm my email' }).click();
  await expect(ivy.getByRole('status').filter({ hasText: `${ivyEmail} is confirmed` })).toBeVisible();
  await expect(ivy.getByRole('complementary', { name: 'Confirm your email' })).toHaveCount(0);
  await ivy.goto(linkIn(invitation, '/join/'));
  await hydrated(ivy);
  await ivy.getByRole('button', { name: `Join ${groupName}` }).click();
  await expect(ivy).toHaveURL(new RegExp(`/g/${slug}$`));
  await synced(ivy);
  expect(await storedRows(ivy)).toBeGreaterThan(0);

  // Ann promotes her, then demotes her.
  await ann.reload();
  await synced(ann);
  const ivyRow = ann.locator('tr.member').filter({ hasText: 'Ivy' });
  await ivyRow.getByRole('button', { name: 'Make admin' }).click();
  await expect(ivyRow.locator('td').nth(2)).toHaveText('admin');
  await ivyRow.getByRole('button', { name: 'Make resident' }).click();
  await expect(ivyRow.locator('td').nth(2)).toHaveText('resident');

  // Ann removes her: Ivy's browser forgets the group.
  await ivyRow.getByRole('button', { name: 'Remove' }).click();
  await ivyRow.getByRole('button', { name: 'Yes, remove' }).click();
  await expect(ann.locator('tr.member').filter({ hasText: 'Ivy' })).toHaveCount(0);
  await expect(ivy.getByRole('alert').filter({ hasText: 'no longer a member' })).toBeVisible();
  await expect.poll(() => storedRows(ivy)).toBe(0);

  // Ann downloads the group's data, then closes the group.
  const [download] = await Promise.all([
    ann.waitForEvent('download'),
    ann.getByRole('link', { name: "Download the group's data (JSON)" }).click(),
  ]);
  const { readFileSync } = await import('node:fs');
  const exported = JSON.parse(readFileSync((await download.path())!, 'utf8'));
  expect(exported.group.slug).toBe(slug);
  expect(exported.tables.members.map((m: { display_name: string }) => m.display_name)).toEqual(['Ann']);
  await ann.getByLabel("Type the group's name to confirm").fill(groupName);
  await ann.getByRole('button', { name: 'Close the group' }).click();
  await expect(ann.getByRole('status').filter({ hasText: 'This group was closed' })).toBeVisible();
  expect((await ann.request.get(`/api/groups/${slug}/export`)).status()).toBe(200);
});
