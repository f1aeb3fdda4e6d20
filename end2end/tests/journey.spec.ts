import { type Page } from '@playwright/test';
import { test, expect, hydrated } from './helpers';

async function signUp(page: Page, name: string, email: string) {
  await hydrated(page);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse');
  await page.getByRole('button', { name: 'Sign up' }).click();
}

test('two neighbours sign up, meet in a group and see each other', async ({ browser }) => {
  const tag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  const groupName = `Elm Street ${tag}`;
  const slug = `elm-${tag}`;

  const ann = await (await browser.newContext()).newPage();
  await ann.goto('/signup');
  await signUp(ann, `Ann ${tag}`, `ann-${tag}@example.org`);
  await expect(ann.getByRole('heading', { name: 'Your groups' })).toBeVisible();

  await ann.getByRole('link', { name: 'Create a group' }).click();
  await expect(ann).toHaveURL(/\/groups\/new$/);
  await hydrated(ann);
  await ann.getByLabel('Name').fill(groupName);
  await ann.getByLabel('Address').fill(slug);
  await ann.getByRole('button', { name: 'Create group' }).click();
  await expect(ann).toHaveURL(new RegExp(`/g/${slug}$`));
  await expect(ann.getByRole('navigation', { name: 'Group' })).toContainText(groupName);

  await ann.getByRole('navigation', { name: 'Group' }).getByRole('link', { name: 'Members' }).click();
  await expect(ann).toHaveURL(new RegExp(`/g/${slug}/members$`));
  await hydrated(ann);
  await ann.getByRole('button', { name: 'Create an invite link' }).click();
  const invite = await ann.locator('#invite-link').getAttribute('href');
  expect(invite).toMatch(/^\/join\/[0-9a-f]+$/);

  const bo = await (await browser.newContext()).newPage();
  await bo.goto(invite!);
  await expect(bo.getByRole('heading', { name: `You are invited to ${groupName}` })).toBeVisible();
  await hydrated(bo);
  await bo.locator('main').getByRole('link', { name: 'Sign up' }).click();
  await expect(bo).toHaveURL(/\/signup\?next=/);
  await signUp(bo, `Bo ${tag}`, `bo-${tag}@example.org`);
  await expect(bo).toHaveURL(new RegExp(`/join/`));
  await hydrated(bo);
  await bo.getByRole('button', { name: `Join ${groupName}` }).click();
  await expect(bo).toHaveURL(new RegExp(`/g/${slug}$`));

  const members = bo.getByRole('region', { name: /Members/ });
  await expect(members).toContainText(`Ann ${tag}`);
  await expect(members).toContainText(`Bo ${tag}`);

  await ann.reload();
  await expect(ann.getByRole('region', { name: /Members/ })).toContainText(`Bo ${tag}`);
});

test('a form shows what is wrong next to the field', async ({ page }) => {
  await page.goto('/signup');
  await hydrated(page);
  await page.getByLabel('Your name').fill('Cy');
  await page.getByLabel('Email').fill(`cy-${Date.now()}@example.org`);
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.locator('#field-password-error')).toHaveText(/at least 8 characters/);
  await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
});

test('a stranger opening a group page gets a 404 page', async ({ page }) => {
  const tag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  await page.goto('/signup');
  await signUp(page, `Di ${tag}`, `di-${tag}@example.org`);
  await expect(page.getByRole('heading', { name: 'Your groups' })).toBeVisible();
  const response = await page.goto('/g/nobody-has-this-group');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});
