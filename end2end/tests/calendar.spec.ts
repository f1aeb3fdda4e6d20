import { test, expect, person, synced, tag } from './helpers';

test('a resident subscribes to the calendar feed and reads it back', async ({ browser }) => {
  const ann = await person(browser, 'Ann');
  const slug = `g-${tag()}`;
  expect((await ann.request.post('/api/groups', { data: { slug, name: `Group ${slug}` } })).status()).toBe(201);
  const room = crypto.randomUUID();
  const at = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
  const mutate = (name: string, args: object) =>
    ann.request.post('/api/mutate', { data: { group: slug, mutations: [{ id: crypto.randomUUID(), name, args }] } });
  expect((await mutate('resource.create', { id: room, name: 'Guest room' })).status()).toBe(200);
  expect(
    (await mutate('booking.create', { id: crypto.randomUUID(), resource_id: room, starts_at: at(30), ends_at: at(32) })).status(),
  ).toBe(200);

  await ann.goto(`/g/${slug}/bookings`);
  await synced(ann);
  await ann.getByRole('button', { name: 'Make a calendar link' }).click();
  const link = ann.locator('#calendar-link');
  await expect(link).toBeVisible();
  const address = (await link.textContent())!;
  expect(address).toMatch(/^http:\/\/.+\/cal\/[0-9a-f]{64}\.ics$/);

  // A calendar app holds no session: a fresh context reads it.
  const phone = await browser.newContext();
  const feed = await phone.request.get(address);
  expect(feed.status()).toBe(200);
  expect(feed.headers()['content-type']).toContain('text/calendar');
  const text = await feed.text();
  expect(text).toContain('BEGIN:VCALENDAR');
  expect(text).toContain('SUMMARY:Guest room (you)');

  // A new link stops this one.
  await ann.getByRole('button', { name: 'Make a calendar link' }).click();
  await expect(link).not.toHaveText(address);
  expect((await phone.request.get(address)).status()).toBe(404);
});
