// Polls: an admin opens one, two residents vote (one offline, one with the
// keyboard only), the results show when it closes, with who voted (named).
import { test, expect, groupWith, keptOffline, person, synced, syncStatus } from './helpers';

test('a poll from opening to results, one resident voting offline', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const bo = await person(browser, 'Bo Resident');
  const cy = await person(browser, 'Cy Resident');
  const slug = await groupWith(ann, [bo, cy]);
  const question = 'Which colour for the front door?';

  await ann.goto(`/g/${slug}/polls`);
  await synced(ann);
  await ann.getByLabel('Question').fill(question);
  await ann.getByLabel('Options, one per line').fill('Red\nGreen\nBlue');
  await ann.getByLabel('Anonymous (no one sees who voted for what)').uncheck();
  await ann.getByRole('button', { name: 'Open poll' }).click();
  const annPoll = ann.locator('li.poll', { hasText: question });
  await expect(annPoll).toContainText('One choice · named');
  await expect(annPoll).toContainText('Results show when the poll closes.');

  // Bo votes with no network: kept with the pending badge, across a reload.
  await bo.goto(`/g/${slug}/polls`);
  await synced(bo);
  await keptOffline(bo, `/g/${slug}/polls`);
  await bo.context().setOffline(true);
  await bo.reload();
  await expect(syncStatus(bo)).toHaveAttribute('data-online', 'false');
  const boPoll = bo.locator('li.poll', { hasText: question });
  await boPoll.getByLabel('Green').check();
  await boPoll.getByRole('button', { name: 'Vote' }).click();
  await expect(boPoll).toContainText('Your vote: Green');
  await expect(boPoll.locator('.badge.pending')).toHaveCount(1);
  await expect(syncStatus(bo)).toHaveAttribute('data-waiting', '1');
  await bo.reload();
  await expect(bo.locator('li.poll', { hasText: question })).toContainText('Your vote: Green');

  // Cy votes with the keyboard only.
  await cy.goto(`/g/${slug}/polls`);
  await synced(cy);
  const cyPoll = cy.locator('li.poll', { hasText: question });
  await cyPoll.getByLabel('Red').focus();
  await cy.keyboard.press('Space');
  await expect(cyPoll.getByLabel('Red')).toBeChecked();
  await cy.keyboard.press('Enter');
  await expect(cyPoll).toContainText('Your vote: Red');
  await expect(cyPoll.getByRole('button', { name: 'Change vote' })).toBeVisible();

  // Bo is back online: the vote reaches the server once.
  await bo.context().setOffline(false);
  await expect(syncStatus(bo)).toHaveAttribute('data-waiting', '0', { timeout: 30_000 });
  await expect(bo.locator('li.poll', { hasText: question }).locator('.badge.pending')).toHaveCount(0);

  // Ann closes it: everyone sees the results without reloading.
  await annPoll.getByRole('button', { name: 'Close now' }).click();
  await expect(annPoll).toContainText('Green 1 vote (50%)');
  await expect(annPoll).toContainText('Blue 0 votes (0%)');
  const boResults = bo.locator('li.poll', { hasText: question });
  await expect(boResults).toContainText('Green 1 vote (50%)');
  await expect(boResults.locator('form.vote')).toHaveCount(0);
  await boResults.getByRole('button', { name: 'Show who voted' }).click();
  await expect(boResults.locator('ul.voters')).toContainText('Green: Bo Resident');
  await expect(boResults.locator('ul.voters')).toContainText('Red: Cy Resident');
});
