import { requireChromium } from '../../scripts/chromium.ts';

/** Fail early, with instructions, when there is no Chromium to run the browser tests in. */
export default function setup(): void {
  requireChromium();
}
