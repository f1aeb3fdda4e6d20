// Client benchmark (not part of the test suite): run by scripts/bench-client
// against a release build. Prints figures; asserts only that they were taken.
import { test, expect } from '@playwright/test';
import { database, groupWith, person, storedRows, synced } from '../tests/helpers';

async function seed(slug: string, rows: number) {
  const db = await database();
  try {
    const { rows: found } = await db.query('SELECT schema_name FROM groups WHERE slug = $1', [slug]);
    await db.query(
      `INSERT INTO "${found[0].schema_name}".announcements (id, author_id, title, body)
       SELECT gen_random_uuid(), gen_random_uuid(), 'notice ' || i, repeat('text ', 20) FROM generate_series(1, $1) i`,
      [rows],
    );
  } finally {
    await db.end();
  }
}

test('10 000 synced rows into IndexedDB', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  await seed(slug, 10_000);
  const page = await ann.context().newPage();
  const started = Date.now();
  await page.goto(`/g/${slug}/members`);
  await expect.poll(() => storedRows(page), { timeout: 120_000, intervals: [50] }).toBeGreaterThanOrEqual(10_001);
  const ms = Date.now() - started;
  console.log(`BENCH indexeddb_10000_rows_ms ${ms}`);
});

test('first render of 5 000 local rows, offline', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  await seed(slug, 5_000);
  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);
  await ann.goto(`/g/${slug}/announcements`); // kept by the service worker now
  await synced(ann);
  await ann.context().setOffline(true);
  await ann.reload();
  const painted = await ann.evaluate(async () => {
    const shown = () => document.querySelectorAll('.notice').length >= 5000;
    while (!shown()) await new Promise((r) => setTimeout(r, 5));
    return performance.now();
  });
  await ann.locator('body[data-hydrated]').waitFor();
  await expect(ann.getByRole('status', { name: 'Sync' })).toHaveAttribute('data-online', 'false');
  const local = await ann.evaluate(() => performance.now());
  console.log(`BENCH first_render_5000_rows_ms ${Math.round(painted)}`);
  console.log(`BENCH local_data_published_ms ${Math.round(local)}`);
});
