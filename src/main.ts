/** Wiring only: start the app in #app and make any startup failure visible. */
import { AttentionError } from './core/errors';
import { startApp } from './ui/app';

const root = document.getElementById('app');
if (!root) throw new AttentionError('index.html has no #app element: the page needs <div id="app"></div> for the app to mount in.');
startApp(root).catch((error: unknown) => {
  console.error(error);
  const message = document.createElement('pre');
  message.setAttribute('role', 'alert');
  message.style.cssText = 'color:#ef5d5d;padding:16px;white-space:pre-wrap';
  message.textContent = `Attention Lens could not start: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  root.append(message);
});
