// The main journey with the keyboard only: every control is reached with
// Tab (never clicked or focused by the test) and used with typing, Enter
// and Space.
import { type Locator, type Page } from '@playwright/test';
import { test, expect, groupWith, hydrated, person, synced, tag } from './helpers';

/** Presses Tab until `target` has the focus (it must be reachable). */
async function tabTo(page: Page, target: Locator) {
  for (let presses = 0; presses < 80; presses++) {
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`never reached ${target} with Tab`);
}

async function typeInto(page: Page, target: Locator, text: string) {
  await tabTo(page, target);
  await page.keyboard.type(text);
}

async function press(page: Page, target: Locator, key = 'Enter') {
  await tabTo(page, target);
  await page.keyboard.press(key);
}

/** Opens the group's section `name` from its navigation. */
async function section(page: Page, name: string, path: RegExp) {
  await press(page, page.getByRole('navigation', { name: 'Group' }).getByRole('link', { name }));
  await expect(page).toHaveURL(path);
  await synced(page);
}

test('signing up, opening a group, posting, filing, booking and voting with the keyboard only', async ({ browser }) => {
  const page = await (await browser.newContext()).newPage();
  await page.goto('/signup');
  await hydrated(page);
  await typeInto(page, page.getByLabel('Your name'), 'Kim Keys');
  await typeInto(page, page.getByLabel('Email'), `kim-${tag()}@example.org`);
  await typeInto(page, page.getByLabel('Password', { exact: true }), 'correct horse');
  await press(page, page.getByRole('button', { name: 'Sign up' }));
  await press(page, page.getByRole('link', { name: 'Create a group' }));
  await expect(page).toHaveURL(/\/groups\/new$/);
  await hydrated(page);
  const slug = `k-${tag()}`;
  await typeInto(page, page.getByLabel('Name'), 'Keys Court');
  const address = page.getByLabel('Address');
  await tabTo(page, address);
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type(slug);
  await press(page, page.getByRole('button', { name: 'Create group' }));
  await expect(page).toHaveURL(new RegExp(`/g/${slug}$`));
  await synced(page);

  // Notices.
  await section(page, 'Notices', /announcements$/);
  await typeInto(page, page.getByLabel('Title'), 'Bins on Tuesday');
  await typeInto(page, page.getByLabel('Text'), 'Green bin this week.');
  await press(page, page.getByRole('button', { name: 'Post' }));
  await expect(page.getByRole('region', { name: 'Notice board' })).toContainText('Bins on Tuesday');

  // A request.
  await section(page, 'Requests', /requests$/);
  await typeInto(page, page.getByLabel('What is wrong?'), 'Gate hinge broken');
  await press(page, page.getByRole('button', { name: 'Send request' }));
  await expect(page.getByRole('region', { name: 'Open' })).toContainText('Gate hinge broken');

  // A room, and a booking from a day's "Book" button.
  await section(page, 'Bookings', /bookings$/);
  await typeInto(page, page.getByLabel('Name'), 'Laundry');
  await press(page, page.getByRole('button', { name: 'Add room' }));
  const laundry = page.getByRole('region', { name: 'Laundry' });
  await expect(laundry).toBeVisible();
  await press(page, page.getByRole('link', { name: 'Next week →' }));
  await expect(page).toHaveURL(/week=/);
  await hydrated(page);
  await press(page, laundry.getByRole('button', { name: /^Book Laundry on / }).first());
  await expect(page.getByLabel('Room', { exact: true })).toHaveValue(/.+/);
  await press(page, page.getByRole('button', { name: 'Book', exact: true }));
  await expect(laundry).toContainText('Kim Keys');

  // A poll, opened and voted on.
  await section(page, 'Polls', /polls$/);
  await typeInto(page, page.getByLabel('Question'), 'New doormat?');
  await typeInto(page, page.getByLabel('Options, one per line'), 'Yes');
  await page.keyboard.press('Enter');
  await page.keyboard.type('No');
  await press(page, page.getByLabel('Show the results while the poll is open'), 'Space');
  await press(page, page.getByRole('button', { name: 'Open poll' }));
  const poll = page.locator('li.poll', { hasText: 'New doormat?' });
  await expect(poll).toContainText('Results so far');
  await press(page, poll.getByLabel('Yes'), 'Space');
  await press(page, poll.getByRole('button', { name: 'Vote' }));
  await expect(poll).toContainText('Your vote: Yes');
  await expect(poll).toContainText('Yes 1 vote (100%)');
});

test("an admin's pages, email choices and the calendar feed with the keyboard only", async ({ browser }) => {
  const page = await person(browser, 'Lee Keys');
  const slug = await groupWith(page, []);
  await page.goto(`/g/${slug}`);
  await synced(page);
  await section(page, 'Members', /members$/);

  // An invite link.
  await press(page, page.getByRole('button', { name: 'Create an invite link' }));
  await expect(page.locator('#invite-link')).toBeVisible();
  // Email choices: no booking reminders.
  const reminders = page.getByLabel('Email me about reminders of your bookings');
  await expect(reminders).toBeChecked();
  await press(page, reminders, 'Space');
  await press(page, page.getByRole('button', { name: 'Save email choices' }));
  await expect(page.locator('#mail').getByRole('status')).toHaveText('Saved.');
  // Residents may open polls.
  await tabTo(page, page.getByLabel('Who may open polls'));
  await page.keyboard.press('ArrowDown');
  await expect(page.getByLabel('Who may open polls')).toHaveValue('true');
  await press(page, page.locator('form', { has: page.locator('#poll-rule') }).getByRole('button', { name: 'Save' }));
  // A new name.
  const name = page.getByLabel('Group name');
  await tabTo(page, name);
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type('Keys Terrace');
  await press(page, page.getByRole('button', { name: 'Rename' }));
  const mine = async () =>
    (await (await page.request.get('/api/me')).json()).groups.find((g: { slug: string }) => g.slug === slug);
  await expect.poll(async () => (await mine()).name).toBe('Keys Terrace');
  expect((await mine()).residents_open_polls).toBe(true);
  const choices = await page.request.post('/fn/mail_choices', { form: { slug } });
  expect(await choices.json()).toEqual({ notices: true, requests: true, bookings: false });

  // The calendar feed, made and read back.
  await section(page, 'Bookings', /bookings$/);
  await press(page, page.getByRole('button', { name: 'Make a calendar link' }));
  const link = page.locator('#calendar-link');
  await expect(link).toBeVisible();
  const feed = await page.request.get((await link.getAttribute('href'))!);
  expect(feed.status()).toBe(200);
  expect(feed.headers()['content-type']).toContain('text/calendar');
  expect(await feed.text()).toContain('BEGIN:VCALENDAR');
});

/** Opens the file chooser of `input` with the keyboard and picks `file`. */
async function choose(page: Page, input: Locator, file: { name: string; mimeType: string; buffer: Buffer }) {
  await tabTo(page, input);
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
  await chooser.setFiles(file);
}

test('a photo on a request and a document in the library with the keyboard only', async ({ browser }) => {
  const page = await person(browser, 'Max Keys');
  const slug = await groupWith(page, []);
  await page.goto(`/g/${slug}`);
  await synced(page);
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGM4YGAARAwQCgAhzgSBU+xT6wAAAABJRU5ErkJggg==',
    'base64',
  );

  await section(page, 'Requests', /requests$/);
  await typeInto(page, page.getByLabel('What is wrong?'), 'Cracked window');
  await press(page, page.getByRole('button', { name: 'Send request' }));
  await press(page, page.getByRole('link', { name: 'Cracked window' }));
  await expect(page.getByRole('heading', { name: 'Cracked window' })).toBeVisible();
  await choose(page, page.getByLabel(/Photos to add/), { name: 'window.png', mimeType: 'image/png', buffer: png });
  await press(page, page.getByRole('button', { name: 'Add photos' }));
  const photo = page.getByRole('region', { name: 'Photos' }).getByRole('img', { name: 'window.png' });
  await expect.poll(() => photo.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(2);

  await section(page, 'Documents', /documents$/);
  const pdf = Buffer.from('%PDF-1.4\n% keys\n%%EOF\n');
  await choose(page, page.getByLabel(/PDF, photo or office document/), {
    name: 'Minutes.pdf',
    mimeType: 'application/pdf',
    buffer: pdf,
  });
  await press(page, page.getByRole('button', { name: 'Add to the library' }));
  const link = page.getByRole('region', { name: 'Documents' }).getByRole('link', { name: 'Minutes.pdf' });
  await expect(link).toBeVisible();
  await tabTo(page, link);
  const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
  expect(download.suggestedFilename()).toBe('Minutes.pdf');
});
