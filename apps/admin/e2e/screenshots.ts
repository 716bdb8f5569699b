import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { laptopViewport } from './browser';

/** Committed: the README links them (a page at a phone's width and at a laptop's). */
export const docsScreenshots = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
export const phoneViewport = { width: 390, height: 844 };

/**
 * Both widths: the page must not scroll sideways on a phone, and each is saved for the README as
 * `<name>-390.png` and `<name>-1440.png`. `ready` waits for what the picture must show. A dialog
 * is taken as the screen shows it (`fullPage: false`): over a whole long page its overlay and the
 * top bar land mid-picture.
 */
export async function screenshotsAtBothWidths(
  page: Page,
  name: string,
  ready: () => Promise<unknown>,
  { fullPage = true }: { fullPage?: boolean } = {},
): Promise<void> {
  mkdirSync(docsScreenshots, { recursive: true });
  for (const viewport of [laptopViewport, phoneViewport]) {
    await page.setViewportSize(viewport);
    await ready();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow, `${name} scrolls sideways at ${viewport.width} px`).toBe(0);
    await page.screenshot({
      path: `${docsScreenshots}${name}-${viewport.width}.png`,
      fullPage,
    });
  }
  await page.setViewportSize(laptopViewport);
}
