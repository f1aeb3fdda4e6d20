import base from './playwright.config';
import { defineConfig } from '@playwright/test';

// The client benchmark (scripts/bench-client), kept out of the test suite.
export default defineConfig({ ...base, testDir: './bench', timeout: 300_000 });
