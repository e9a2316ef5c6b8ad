/**
 * Writes openapi/openapi.json from the route schemas: `npx tsx scripts/openapi.ts`.
 * Commit the result; test/api/openapi.test.ts fails when the file drifts from the app.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderOpenApi } from '../src/api/index.js';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
const target = fileURLToPath(new URL('openapi/openapi.json', root));

const text = await renderOpenApi(pkg.version);
writeFileSync(target, text);
console.log(`wrote ${target} (${text.length} bytes, version ${pkg.version})`);
