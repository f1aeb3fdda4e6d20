// The local-first client: a change by one resident reaches another's open
// page without a reload, and the sync indicator tells what is going on.
import { test, expect, groupWith, hydrated, person } from './helpers';

test('a notice posted by one resident appears for another without a reload', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);

  await bo.goto(`/g/${slug}/announcements`);
  await hydrated(bo);
  await expect(bo.getByRole('status', { name: 'Sync' })).toContainText('synced');

  await ann.goto(`/g/${slug}/announcements`);
  await hydrated(ann);
  await ann.getByLabel('Title').fill('Lift inspection Monday');
  await ann.getByLabel('Text').fill('The lift is off 9-12.');
  await ann.getByRole('button', { name: 'Post' }).click();

  // No reload on Bo's side: the change arrives through the stream.
  await expect(bo.getByRole('region', { name: 'Notice board' })).toContainText('Lift inspection Monday');
  await expect(bo.getByRole('status', { name: 'Sync' })).toHaveAttribute('data-online', 'true');
  await expect(ann.getByRole('status', { name: 'Sync' })).toHaveAttribute('data-waiting', '0');
});
