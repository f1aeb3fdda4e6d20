import { test, expect, dayFromNow, groupWith, hydrated, person } from './helpers';

test('residents post notices, file requests and book a room without double-booking', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);

  // The admin adds a room.
  await ann.goto(`/g/${slug}/bookings`);
  await hydrated(ann);
  await ann.getByLabel('Name').fill('Laundry');
  await ann.getByRole('button', { name: 'Add room' }).click();
  await expect(ann.getByRole('heading', { name: 'Laundry' })).toBeVisible();

  // A resident posts a notice and files a request.
  await bo.goto(`/g/${slug}/announcements`);
  await hydrated(bo);
  await bo.getByLabel('Title').fill('Bins go out on Tuesday');
  await bo.getByLabel('Text').fill('Green bin this week.');
  await bo.getByRole('button', { name: 'Post' }).click();
  await expect(bo.getByRole('region', { name: 'Notice board' })).toContainText('Bins go out on Tuesday');
  await expect(bo.getByLabel('Title')).toHaveValue('');

  await bo.getByRole('navigation', { name: 'Group' }).getByRole('link', { name: 'Requests' }).click();
  await hydrated(bo);
  await bo.getByLabel('What is wrong?').fill('Gate hinge broken');
  await bo.getByRole('button', { name: 'Send request' }).click();
  await expect(bo.getByRole('region', { name: 'Open' })).toContainText('Gate hinge broken');

  // The admin sees both, pins the notice and starts on the request.
  await ann.goto(`/g/${slug}`);
  await expect(ann.getByRole('region', { name: 'Notices' })).toContainText('Bins go out on Tuesday');
  await ann.getByRole('link', { name: 'Gate hinge broken' }).click();
  await hydrated(ann);
  await ann.getByRole('button', { name: 'Mark in progress' }).click();
  await expect(ann.locator('.badge.status')).toHaveText('In progress');
  await ann.getByLabel('Add a comment').fill('Locksmith booked for Friday.');
  await ann.getByRole('button', { name: 'Comment' }).click();
  await expect(ann.getByRole('region', { name: 'Comments' })).toContainText('Locksmith booked for Friday.');

  // The resident books the laundry; the admin then tries the same slot.
  const day = await dayFromNow(bo, 2);
  for (const [page, who] of [[bo, 'Bo'], [ann, 'Ann']] as const) {
    await page.goto(`/g/${slug}/bookings?week=${day}`);
    await hydrated(page);
    await page.getByLabel('Room', { exact: true }).selectOption({ label: 'Laundry' });
    await page.getByLabel('From').fill(`${day}T09:00`);
    await page.getByLabel('Until').fill(`${day}T10:00`);
    await page.getByRole('button', { name: 'Book', exact: true }).click();
    if (who === 'Bo') {
      await expect(page.getByRole('region', { name: 'Laundry' })).toContainText('Bo Resident');
    }
  }
  await expect(ann.getByRole('alert').filter({ hasText: 'that slot is already booked' })).toBeVisible();
});
