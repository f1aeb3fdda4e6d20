// A page shows "today" from the server's render time until it has
// hydrated, then from the browser's clock: a browser whose date is not the
// server's (a page opened across midnight, or from the offline copy days
// later) hydrates without a mismatch, then shows its own today.
import { test, expect, groupWith, hydrated, person } from './helpers';
import { randomUUID } from 'node:crypto';

test("a browser on another day than the server hydrates the server's page, then shows its own today", async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  const room = randomUUID();
  const inThreeDays = new Date(Date.now() + 3 * 86_400_000);
  inThreeDays.setUTCHours(12, 0, 0, 0);
  const until = new Date(inThreeDays.getTime() + 3_600_000);
  const mutations = [
    { id: randomUUID(), name: 'resource.create', args: { id: room, name: 'Roof terrace' } },
    {
      id: randomUUID(),
      name: 'booking.create',
      args: { id: randomUUID(), resource_id: room, starts_at: inThreeDays.toISOString(), ends_at: until.toISOString() },
    },
  ];
  const written = await ann.request.post('/api/mutate', { data: { group: slug, mutations } });
  expect(written.status()).toBe(200);

  // The browser lives on the booking's day; the server renders today's page.
  await ann.clock.setFixedTime(new Date(inThreeDays.getTime() - 3_600_000));
  const html = await (await ann.request.get(`/g/${slug}`)).text();
  expect(html).not.toContain('Roof terrace</strong>');
  await ann.goto(`/g/${slug}`);
  await hydrated(ann);
  const today = ann.getByRole('region', { name: 'Booked today' });
  await expect(today).toContainText('Roof terrace');

  // The bookings page's week, a week later by the browser's clock.
  await ann.clock.setFixedTime(new Date(inThreeDays.getTime() + 7 * 86_400_000));
  await ann.goto(`/g/${slug}/bookings`);
  await hydrated(ann);
  await expect(ann.getByRole('heading', { name: 'Roof terrace' })).toBeVisible();
});
