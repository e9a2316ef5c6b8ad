import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HTTP_ERRORS, type ErrorMapping } from '../../src/api/errors.js';
import { API_ERROR_CODES, ERROR_CODES, GatewayError, INTERNAL_ERROR_CODES, isApiErrorCode, type ApiErrorCode } from '../../src/shared/index.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The README's error table (section "HTTP API", the table whose header is `| HTTP | code | when |`): code -> status. */
function readmeErrorTable(): Map<string, number> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('HTTP API'));
  if (!section) throw new Error('README.md has no "HTTP API" section');
  const lines = section.split('\n');
  const header = lines.findIndex((l) => /^\|\s*HTTP\s*\|\s*code\s*\|/.test(l));
  if (header < 0) throw new Error('README.md "HTTP API" has no | HTTP | code | when | table');
  const table = new Map<string, number>();
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const [statusCell = '', codeCell = ''] = line.split('|').slice(1);
    const status = statusCell.trim();
    if (!/^\d{3}$/.test(status)) throw new Error(`README error table: one status per row, got "${status}" in ${line.slice(0, 80)}`);
    const codes = [...codeCell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] ?? '');
    if (codes.length === 0) throw new Error(`README error table: no code in ${line.slice(0, 80)}`);
    for (const code of codes) {
      if (table.has(code)) throw new Error(`README error table names ${code} twice`);
      table.set(code, Number(status));
    }
  }
  return table;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('error codes', () => {
  it('are each in one list only, once', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(ERROR_CODES.length).toBe(API_ERROR_CODES.length + INTERNAL_ERROR_CODES.length);
    expect(INTERNAL_ERROR_CODES.filter((c) => isApiErrorCode(c))).toEqual([]);
  });

  it('are the HTTP registry exactly, for the API list', () => {
    expect(Object.keys(HTTP_ERRORS).sort()).toEqual([...API_ERROR_CODES].sort());
  });

  it('are all raised somewhere (no stale code in the lists)', () => {
    const text = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'simulator'))]
      .filter((f) => !f.endsWith(join('shared', 'codes.ts')))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const unused = ERROR_CODES.filter((c) => !text.includes(`'${c}'`));
    expect(unused).toEqual([]);
  });

  it('fail the type check when misspelt, unlisted or without a status', () => {
    // These lines are checked by `tsc --noEmit` (test/ is in tsconfig.json): each @ts-expect-error
    // fails the type check when the line under it stops being an error.
    // @ts-expect-error a code that is not in the lists
    const typo = new GatewayError('BUS_TIMOUT', 'no reply');
    expect(typo.code).toBe('BUS_TIMOUT');
    const { API_INTERNAL: _internal, ...withoutOne } = HTTP_ERRORS;
    // @ts-expect-error an API code without a status
    const incomplete = withoutOne satisfies Record<ApiErrorCode, ErrorMapping>;
    const extra = {
      ...HTTP_ERRORS,
      // @ts-expect-error a status for a code that does not exist
      API_NO_SUCH_CODE: { status: 400 },
    } satisfies Record<ApiErrorCode, ErrorMapping>;
    expect(Object.keys(incomplete)).not.toContain('API_INTERNAL');
    expect(Object.keys(extra)).toContain('API_NO_SUCH_CODE');
  });
});

describe("the README's error table", () => {
  it('names exactly the codes of HTTP_ERRORS, each with its status', () => {
    const table = readmeErrorTable();
    const registry = new Map(Object.entries(HTTP_ERRORS).map(([code, m]) => [code, m.status]));
    const missing = [...registry.keys()].filter((c) => !table.has(c));
    const unknown = [...table.keys()].filter((c) => !registry.has(c));
    const wrong = [...table].filter(([c, s]) => registry.has(c) && registry.get(c) !== s).map(([c, s]) => `${c}: README ${s}, HTTP_ERRORS ${registry.get(c)}`);
    expect({ missing, unknown, wrong }).toEqual({ missing: [], unknown: [], wrong: [] });
  });
});
