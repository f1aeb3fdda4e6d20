// Offline: a visited group opens with no network, takes writes (shown as
// pending, kept across reloads) and sends them, exactly once, when the
// connection returns. Refusals and removed memberships are handled too.
import { type Page } from '@playwright/test';
import {
  test,
  expect,
  database,
  dayFromNow,
  groupWith,
  keptOffline,
  person,
  removeResidents,
  storedRows,
  synced,
  syncStatus,
} from './helpers';

async function addRoom(admin: Page, slug: string, name: string) {
  await admin.goto(`/g/${slug}/bookings`);
  await synced(admin);
  await admin.getByLabel('Name').fill(name);
  await admin.getByRole('button', { name: 'Add room' }).click();
  await expect(admin.getByRole('heading', { name })).toBeVisible();
}

async function book(page: Page, day: string, from: string, until: string) {
  await page.getByLabel('Room', { exact: true }).selectOption({ label: 'Laundry' });
  await page.getByLabel('From').fill(`${day}T${from}`);
  await page.getByLabel('Until').fill(`${day}T${until}`);
  await page.getByRole('button', { name: 'Book', exact: true }).click();
}

test('writes made offline survive a reload and reach everyone once, when back online', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);
  await addRoom(ann, slug, 'Laundry');
  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);

  const day = await dayFromNow(bo, 3);
  await bo.goto(`/g/${slug}/announcements`);
  await synced(bo);
  await keptOffline(bo, `/g/${slug}/announcements`);
  // Visited once the service worker runs, so kept as it is.
  await bo.goto(`/g/${slug}/bookings?week=${day}`);
  await synced(bo);

  // The network goes; the page and all the data still open.
  await bo.context().setOffline(true);
  await bo.goto(`/g/${slug}/announcements`);
  await expect(syncStatus(bo)).toHaveAttribute('data-online', 'false');
  await bo.getByLabel('Title').fill('Parcel for flat 2');
  await bo.getByLabel('Text').fill('It is at my door.');
  await bo.getByRole('button', { name: 'Post' }).click();
  const board = bo.getByRole('region', { name: 'Notice board' });
  await expect(board).toContainText('Parcel for flat 2');
  await expect(board.locator('.badge.pending')).toHaveCount(1);

  await bo.goto(`/g/${slug}/bookings?week=${day}`);
  await expect(bo.getByRole('heading', { name: 'Laundry' })).toBeVisible();
  await book(bo, day, '18:00', '19:00');
  await expect(bo.getByRole('region', { name: 'Laundry' }).locator('.badge.pending')).toHaveCount(1);
  await expect(syncStatus(bo)).toHaveAttribute('data-waiting', '2');

  // Reload, still offline: the queued writes are still there.
  await bo.reload();
  await expect(bo.getByRole('region', { name: 'Laundry' })).toContainText('Bo Resident');
  await expect(syncStatus(bo)).toHaveAttribute('data-waiting', '2');

  // Back online: they reach the server once, and Ann without a reload.
  await bo.context().setOffline(false);
  await expect(syncStatus(bo)).toHaveAttribute('data-waiting', '0', { timeout: 30_000 });
  await expect(bo.getByRole('region', { name: 'Laundry' }).locator('.badge.pending')).toHaveCount(0);
  await expect(ann.getByRole('region', { name: 'Notice board' })).toContainText('Parcel for flat 2');

  const db = await database();
  try {
    const { rows } = await db.query('SELECT schema_name FROM groups WHERE slug = $1', [slug]);
    const schema = rows[0].schema_name;
    const notices = await db.query(`SELECT count(*)::int AS n FROM "${schema}".announcements WHERE title = 'Parcel for flat 2'`);
    const bookings = await db.query(`SELECT count(*)::int AS n FROM "${schema}".bookings`);
    expect(notices.rows[0].n).toBe(1);
    expect(bookings.rows[0].n).toBe(1);
  } finally {
    await db.end();
  }
});

test('two residents offline book the same slot: one wins, the other is told why', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);
  await addRoom(ann, slug, 'Laundry');
  const day = await dayFromNow(bo, 4);
  for (const page of [ann, bo]) {
    await page.goto(`/g/${slug}/bookings?week=${day}`);
    await synced(page);
    await page.context().setOffline(true);
    await book(page, day, '07:00', '08:00');
    await expect(page.getByRole('region', { name: 'Laundry' }).locator('.badge.pending')).toHaveCount(1);
  }
  await ann.context().setOffline(false);
  await expect(syncStatus(ann)).toHaveAttribute('data-waiting', '0', { timeout: 30_000 });
  await bo.context().setOffline(false);
  await expect(bo.getByRole('alert').filter({ hasText: 'that slot is already booked' })).toBeVisible({ timeout: 30_000 });
  await expect(bo.getByRole('alert')).toContainText('Your booking was refused');
  // Bo's page ends showing Ann's booking, not his own.
  await expect(bo.getByRole('region', { name: 'Laundry' })).toContainText('Ann Admin');
  await expect(bo.getByRole('region', { name: 'Laundry' })).not.toContainText('Bo Resident');
});

test("a removed member's browser drops the group's data", async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);
  await bo.goto(`/g/${slug}/announcements`);
  await synced(bo);
  const stored = () => storedRows(bo);
  expect(await stored()).toBeGreaterThan(0);

  await removeResidents(slug);
  // Any change wakes Bo's page, whose next request learns the news.
  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);
  await ann.getByLabel('Title').fill('Welcome');
  await ann.getByLabel('Text').fill('Hello');
  await ann.getByRole('button', { name: 'Post' }).click();
  await expect(bo.getByRole('alert')).toContainText('no longer a member', { timeout: 30_000 });
  expect(await stored()).toBe(0);
});

test('writes made while the server is down (the browser online) are sent when it is back', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);
  // The server stops answering: every request to it fails, the browser stays online.
  const down = async (route: import('@playwright/test').Route) => route.abort('connectionrefused');
  await ann.route('**/api/**', down);
  await ann.route('**/g/*/v1/**', down);
  await ann.getByLabel('Title').fill('Written while the server was down');
  await ann.getByLabel('Text').fill('x');
  await ann.getByRole('button', { name: 'Post' }).click();
  await expect(ann.getByRole('region', { name: 'Notice board' }).locator('.badge.pending')).toHaveCount(1);
  await expect(syncStatus(ann)).toHaveAttribute('data-online', 'false', { timeout: 20_000 });
  await ann.unroute('**/api/**', down);
  await ann.unroute('**/g/*/v1/**', down);
  // No online event this time: the retry pause ends on its own.
  await expect(syncStatus(ann)).toHaveAttribute('data-waiting', '0', { timeout: 40_000 });
  await expect(ann.getByRole('region', { name: 'Notice board' }).locator('.badge.pending')).toHaveCount(0, { timeout: 20_000 });
  const db = await database();
  try {
    const { rows } = await db.query('SELECT schema_name FROM groups WHERE slug = $1', [slug]);
    const found = await db.query(`SELECT count(*)::int AS n FROM "${rows[0].schema_name}".announcements`);
    expect(found.rows[0].n).toBe(1);
  } finally {
    await db.end();
  }
});

test("offline across the change log's compaction and retention: the copy catches up, queued writes are kept", async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);
  const board = bo.getByRole('region', { name: 'Notice board' });
  const db = await database();
  try {
    const { rows } = await db.query('SELECT schema_name FROM groups WHERE slug = $1', [slug]);
    const s = `"${rows[0].schema_name}"`;
    const one = async (sql: string) => (await db.query(sql)).rows[0];
    const edited = (await one(
      `INSERT INTO ${s}.announcements (id, author_id, title, body, pinned)
       VALUES (gen_random_uuid(), gen_random_uuid(), 'Edited 0', 'x', true) RETURNING id`,
    )).id;
    // Older notices, so the board's first page stays on the ones checked.
    const addNotices = (n: number) =>
      db.query(
        `INSERT INTO ${s}.announcements (id, author_id, title, body, created_at)
         SELECT gen_random_uuid(), gen_random_uuid(), 'old ' || i, '', now() - interval '1 day' - i * interval '1 minute'
         FROM generate_series(1, ${n}) i`,
      );
    const post = async (title: string) => {
      await bo.getByLabel('Title').fill(title);
      await bo.getByLabel('Text').fill('queued offline');
      await bo.getByRole('button', { name: 'Post' }).click();
      await expect(board.locator('.badge.pending')).toHaveCount(1);
    };
    const backOnline = async () => {
      await bo.context().setOffline(false);
      await expect(syncStatus(bo)).toHaveAttribute('data-waiting', '0', { timeout: 30_000 });
      await expect(board.locator('.badge.pending')).toHaveCount(0, { timeout: 20_000 });
    };
    const refetches: string[] = [];
    bo.on('response', (r) => {
      if (r.status() === 409 && r.url().includes('/v1/shape')) refetches.push(r.url());
    });
    await bo.goto(`/g/${slug}/announcements`);
    await synced(bo);
    await expect(board).toContainText('Edited 0');

    // 1. Offline with a queued post while the pinned notice is edited 150
    // times and 120 notices come: the job merges the 150 edits into one.
    await bo.context().setOffline(true);
    await post('Queued first');
    for (let i = 1; i <= 150; i++) await db.query(`UPDATE ${s}.announcements SET title = 'Edited ${i}' WHERE id = $1`, [edited]);
    await addNotices(120);
    await expect
      .poll(async () => (await one(`SELECT count(*)::int AS n FROM ${s}.changes WHERE key = '${edited}'`)).n, { timeout: 20_000 })
      .toBe(2);
    await backOnline();
    await expect(board).toContainText('Edited 150');
    await expect(board).toContainText('Queued first');
    expect(refetches, 'merged changes are caught up on, not refetched').toEqual([]);

    // 2. Offline again with another queued post; the log then ages past
    // its retention and is trimmed beyond Bo's position: his copy refetches.
    await bo.context().setOffline(true);
    await post('Queued second');
    const head = (await one(`SELECT position FROM ${s}.change_head`)).position;
    await addNotices(30);
    await db.query(`UPDATE ${s}.changes SET at = at - interval '8 days'`);
    await db.query(`UPDATE ${s}.announcements SET title = 'Edited again' WHERE id = $1`, [edited]);
    await expect
      .poll(async () => Number((await one(`SELECT position FROM ${s}.change_floor`)).position), { timeout: 20_000 })
      .toBeGreaterThan(Number(head));
    await backOnline();
    await expect(board).toContainText('Edited again');
    await expect(board).toContainText('Queued second');
    await expect(board).toContainText('Queued first');
    expect(refetches.length, 'below the floor: a 409, then a refetch').toBeGreaterThan(0);

    // Each queued post arrived once; the browser holds every row there is.
    const count = async (title: string) => (await one(`SELECT count(*)::int AS n FROM ${s}.announcements WHERE title = '${title}'`)).n;
    expect([await count('Queued first'), await count('Queued second')]).toEqual([1, 1]);
    // (Of the tables scoped to their member, Bo holds his own rows only.)
    const bos = `member_id = (SELECT user_id FROM ${s}.members WHERE display_name = 'Bo Resident')`;
    const tables = ['members', 'announcements', 'requests', 'request_comments', 'resources', 'bookings', 'polls',
      'poll_options', `ballots WHERE ${bos}`, `read_marks WHERE ${bos}`];
    const total = async () => {
      let n = 0;
      for (const table of tables) n += (await one(`SELECT count(*)::int AS n FROM ${s}.${table}`)).n;
      return n;
    };
    await expect.poll(async () => (await storedRows(bo)) - (await total()), { timeout: 20_000 }).toBe(0);
  } finally {
    await db.end();
  }
});
