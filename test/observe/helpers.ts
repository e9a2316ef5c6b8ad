import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** ../shared/captures beside the repository (absent in a user's clone). */
export const CAPTURES_DIR = fileURLToPath(new URL('../../../shared/captures/', import.meta.url));
export const HAVE_CAPTURES = existsSync(CAPTURES_DIR + 'log2.log') && existsSync(CAPTURES_DIR + 'bridgeEtOH2014-12-03.log');
export const SKIP_MESSAGE = `capture tests skipped: ${CAPTURES_DIR} is absent (it exists only beside the project's shared folder)`;

export function readCapture(name: string): string {
  return readFileSync(CAPTURES_DIR + name, 'utf8');
}
