/** Wiring only: mount the app (src/ui/app.ts), which shows any startup failure on the page. */
import { mountApp } from './ui/app';

mountApp();
