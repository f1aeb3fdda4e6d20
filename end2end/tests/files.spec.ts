// Files: a photo chosen offline for a new request is shown at once, kept
// across the wait, uploaded when the connection returns and seen by
// another resident without its EXIF; a document an admin adds opens for a
// resident, and opens again offline once opened.
import { type Page } from '@playwright/test';
import { test, expect, groupWith, keptOffline, person, storedRows, synced, syncStatus } from './helpers';

/** A JPEG drawn by the browser, with an EXIF segment naming a place put in. */
async function photoWithPlace(page: Page): Promise<Buffer> {
  const base64 = await page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 480;
    const g = canvas.getContext('2d')!;
    g.fillStyle = '#3060c0';
    g.fillRect(0, 0, 640, 480);
    g.fillStyle = '#ffffff';
    g.fillRect(100, 100, 200, 120);
    const blob: Blob = await new Promise((done) => canvas.toBlob((b) => done(b!), 'image/jpeg', 0.9));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
  });
  const plain = Buffer.from(base64, 'base64');
  const tiff = Buffer.concat([
    Buffer.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0]),
    Buffer.from('GPS 51.5007N 0.1246W'),
  ]);
  const app1 = Buffer.concat([Buffer.from('Exif\0\0', 'binary'), tiff]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(app1.length + 2);
  return Buffer.concat([plain.subarray(0, 2), Buffer.from([0xff, 0xe1]), length, app1, plain.subarray(2)]);
}

/** The bytes a file's URL serves to `page` (signed in as it is). */
async function served(page: Page, url: string): Promise<Buffer> {
  const response = await page.request.get(url);
  expect(response.status()).toBe(200);
  return Buffer.from(await response.body());
}

test('a photo chosen offline for a new request shows at once and reaches another resident', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const cy = await person(browser, 'Cy Resident');
  const slug = await groupWith(ann, [bo, cy]);
  const photo = await photoWithPlace(bo);
  expect(photo.includes(Buffer.from('GPS'))).toBe(true);

  await bo.goto(`/g/${slug}/requests`);
  await synced(bo);
  await keptOffline(bo, `/g/${slug}/requests`);

  // No signal in the basement: the request and its photo are queued.
  await bo.context().setOffline(true);
  await bo.getByLabel('What is wrong?').fill('Leak under the boiler');
  await bo.getByLabel('Details').fill('Water on the floor since this morning.');
  await bo.getByRole('button', { name: 'Send request' }).click();
  await bo.getByRole('link', { name: 'Leak under the boiler' }).click();
  await expect(bo.getByRole('heading', { name: 'Leak under the boiler' })).toBeVisible();
  await bo.getByLabel(/Photos to add/).setInputFiles({ name: 'leak.jpg', mimeType: 'image/jpeg', buffer: photo });
  await bo.getByRole('button', { name: 'Add photos' }).click();
  const photos = bo.getByRole('region', { name: 'Photos' });
  const shown = photos.getByRole('img', { name: 'leak.jpg' });
  await expect(shown).toBeVisible();
  await expect(shown).toHaveAttribute('src', /^blob:/);
  await expect(photos.locator('.badge.pending')).toHaveCount(1);
  await expect(syncStatus(bo)).toHaveAttribute('data-waiting', '2');
  // Drawn from the bytes kept here.
  await expect.poll(() => shown.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(640);

  // Back online: the bytes go, then the writes, once.
  await bo.context().setOffline(false);
  await expect(syncStatus(bo)).toHaveAttribute('data-waiting', '0', { timeout: 30_000 });
  await expect(photos.locator('.badge.pending')).toHaveCount(0);

  // Cy sees it, stripped of where it was taken.
  await cy.goto(`/g/${slug}/requests`);
  await synced(cy);
  await cy.getByRole('link', { name: 'Leak under the boiler' }).click();
  const seen = cy.getByRole('region', { name: 'Photos' }).getByRole('img', { name: 'leak.jpg' });
  await expect.poll(() => seen.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  const href = await cy.getByRole('region', { name: 'Photos' }).getByRole('link').getAttribute('href');
  const stored = await served(cy, href!);
  expect(stored.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
  expect(stored.includes(Buffer.from('Exif'))).toBe(false);
  expect(stored.includes(Buffer.from('GPS'))).toBe(false);
  // Cy's comment with a photo (the same bytes: stored once) reaches Bo.
  await cy.getByLabel('Add a comment').fill('Same in flat 3.');
  await cy.getByLabel('With photos (optional)').setInputFiles({ name: 'flat3.jpg', mimeType: 'image/jpeg', buffer: photo });
  await cy.getByRole('button', { name: 'Comment' }).click();
  const commented = bo.getByRole('region', { name: 'Comments' }).getByRole('img', { name: 'flat3.jpg' });
  await expect.poll(() => commented.evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: 30_000 }).toBeGreaterThan(0);
  // Nobody outside the group gets it.
  const stranger = await person(browser, 'Dee Stranger');
  expect((await stranger.request.get(href!)).status()).toBe(404);

  // Cy may remove her own photo, not Bo's; Bo takes his back: it goes for Cy too.
  await expect(cy.getByRole('button', { name: 'Remove flat3.jpg' })).toHaveCount(1);
  await expect(cy.getByRole('button', { name: 'Remove leak.jpg' })).toHaveCount(0);
  await bo.getByRole('region', { name: 'Photos' }).getByRole('button', { name: 'Remove leak.jpg' }).click();
  await expect(cy.getByRole('region', { name: 'Photos' }).getByRole('img', { name: 'leak.jpg' })).toHaveCount(0);
  expect((await cy.request.get(href!)).status()).toBe(404);
});

test('a document an admin adds opens for a resident, and offline once opened', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const slug = await groupWith(ann, [bo]);
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

  await ann.goto(`/g/${slug}/documents`);
  await synced(ann);
  await ann.getByLabel(/PDF, photo or office document/).setInputFiles({
    name: 'House rules.pdf',
    mimeType: 'application/pdf',
    buffer: pdf,
  });
  await ann.getByRole('button', { name: 'Add to the library' }).click();
  const library = ann.getByRole('region', { name: 'Documents' });
  await expect(library.getByRole('link', { name: 'House rules.pdf' })).toBeVisible();
  await expect(syncStatus(ann)).toHaveAttribute('data-waiting', '0', { timeout: 30_000 });
  await expect(library.locator('.badge.pending')).toHaveCount(0);

  // Residents read the library but do not add to it.
  await bo.goto(`/g/${slug}/documents`);
  await synced(bo);
  await keptOffline(bo, `/g/${slug}/documents`);
  await expect(bo.getByRole('button', { name: 'Add to the library' })).toHaveCount(0);
  const link = bo.getByRole('region', { name: 'Documents' }).getByRole('link', { name: 'House rules.pdf' });
  const opened = async () => {
    const [download] = await Promise.all([bo.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('House rules.pdf');
    const { readFile } = await import('node:fs/promises');
    return readFile((await download.path())!);
  };
  expect(await opened()).toEqual(pdf);

  // Offline, after a reload: it opens from this browser's copy.
  await bo.context().setOffline(true);
  await bo.reload();
  await expect(syncStatus(bo)).toHaveAttribute('data-online', 'false');
  await expect(link).toBeVisible();
  expect(await opened()).toEqual(pdf);
  await bo.context().setOffline(false);

  // Signing out forgets the files this browser kept for Bo.
  expect(await storedRows(bo, 'files')).toBeGreaterThan(0);
  await bo.getByRole('button', { name: 'Log out' }).click();
  await expect.poll(() => storedRows(bo, 'files'), { timeout: 15_000 }).toBe(0);
});
