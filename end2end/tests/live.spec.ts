// The local-first client: a change by one resident reaches another's open
// page without a reload, and the sync indicator tells what is going on.
import { type Page } from '@playwright/test';
import { test, expect, groupWith, hydrated, person, removeResidents } from './helpers';

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

/** Records the group wake requests of `page`'s browser: which tab, and whether an event stream. */
function wakeRequests(page: Page): { tab: Page; stream: boolean }[] {
  const seen: { tab: Page; stream: boolean }[] = [];
  page.context().on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.endsWith('/v1/wake')) {
      seen.push({ tab: request.frame().page(), stream: url.searchParams.get('live_sse') === 'true' });
    }
  });
  return seen;
}

async function post(page: Page, title: string) {
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Text').fill('Details inside.');
  await page.getByRole('button', { name: 'Post' }).click();
}

test('the tabs of one group share one event stream, and every tab gets each change', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);
  const wakes = wakeRequests(bo);
  const tabs = [bo, await bo.context().newPage()];
  for (const tab of tabs) {
    await tab.goto(`/g/${slug}/announcements`);
    await hydrated(tab);
    await expect(tab.getByRole('status', { name: 'Sync' })).toContainText('synced');
  }
  await ann.goto(`/g/${slug}/announcements`);
  await hydrated(ann);
  for (const title of ['Boiler service', 'Roof repairs']) {
    await post(ann, title);
    for (const tab of tabs) {
      await expect(tab.getByRole('region', { name: 'Notice board' })).toContainText(title);
    }
  }
  // One stream, held by one tab (the one sending the outbox), no long-poll.
  expect(wakes.length).toBeGreaterThan(0);
  expect(wakes.every((w) => w.stream)).toBe(true);
  expect(new Set(wakes.map((w) => w.tab)).size).toBe(1);
  expect(wakes.length).toBeLessThanOrEqual(2);

  // The holder closes: the other tab takes the stream over.
  const holder = wakes[0].tab;
  const other = tabs.find((t) => t !== holder)!;
  await holder.close();
  await post(ann, 'Bins on Tuesday');
  await expect(other.getByRole('region', { name: 'Notice board' })).toContainText('Bins on Tuesday');
  expect(wakes.some((w) => w.tab === other && w.stream)).toBe(true);
});

test('where the event stream fails (a proxy cutting it), the tab long-polls instead', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);
  const wakes = wakeRequests(bo);
  // Every wake stream ends at once with nothing in it.
  await bo.context().route(
    (url) => url.pathname.endsWith('/v1/wake') && url.searchParams.get('live_sse') === 'true',
    (route) => route.fulfill({ status: 200, contentType: 'text/event-stream', body: '' }),
  );
  await bo.goto(`/g/${slug}/announcements`);
  await hydrated(bo);
  await expect(bo.getByRole('status', { name: 'Sync' })).toContainText('synced');
  await ann.goto(`/g/${slug}/announcements`);
  await hydrated(ann);
  await post(ann, 'Water off Friday');
  await expect(bo.getByRole('region', { name: 'Notice board' })).toContainText('Water off Friday');
  expect(wakes.filter((w) => w.stream).length).toBe(1);
  expect(wakes.some((w) => !w.stream)).toBe(true);
});

test("a removed member's tabs all learn it at once, the one holding the stream and the others", async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);
  const tabs = [bo, await bo.context().newPage()];
  for (const tab of tabs) {
    await tab.goto(`/g/${slug}/announcements`);
    await hydrated(tab);
    await expect(tab.getByRole('status', { name: 'Sync' })).toContainText('synced');
  }
  await removeResidents(slug);
  // Nothing else changes in the group: the stream itself says so.
  for (const tab of tabs) {
    await expect(tab.getByRole('alert')).toContainText('no longer a member', { timeout: 10_000 });
  }
});
