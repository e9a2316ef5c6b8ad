/**
 * The lint check against silent drops (eslint.config.js): an empty `.catch(() => {})` or
 * `.then(ok, () => {})`, or an empty `catch {}`, fails `npx eslint` in src/ and simulator/.
 */
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const eslint = new ESLint({ cwd: ROOT });

/** The silent-drop rules that fire on `code` as if it were the file at `path` (relative to the repository); parse errors too. */
async function rulesFor(code: string, path: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  return (result?.messages ?? []).map((m) => m.ruleId ?? `fatal: ${m.message}`).filter((r) => r === 'no-restricted-syntax' || r === 'no-empty' || r.startsWith('fatal'));
}

const PRELUDE = "import { dropped, silentLogger } from '../shared/index.js';\nconst p: Promise<void> = Promise.resolve();\n";

describe('no silent drops', () => {
  it('flags an empty .catch(() => {}) and .catch(function () {}) in src/ and simulator/', async () => {
    expect(await rulesFor(`${PRELUDE}void p.catch(() => {});\n`, 'src/store/x.ts')).toEqual(['no-restricted-syntax']);
    expect(await rulesFor(`${PRELUDE}void p.catch(function () {});\n`, 'src/bus/x.ts')).toEqual(['no-restricted-syntax']);
    expect(await rulesFor('const p: Promise<void> = Promise.resolve();\nvoid p.catch(() => {});\n', 'simulator/x.ts')).toEqual(['no-restricted-syntax']);
  });

  it('flags an empty rejection handler of .then, not an empty fulfilment handler', async () => {
    expect(await rulesFor(`${PRELUDE}void p.then(() => 1, () => {});\n`, 'src/store/x.ts')).toEqual(['no-restricted-syntax']);
    expect(await rulesFor(`${PRELUDE}void p.then(() => {}, dropped(silentLogger, 'x'));\n`, 'src/store/x.ts')).toEqual([]);
  });

  it('flags an empty catch block', async () => {
    expect(await rulesFor(`${PRELUDE}try { JSON.parse('x'); } catch {}\nvoid p;\n`, 'src/store/x.ts')).toEqual(['no-empty']);
  });

  it('accepts a handler that says what it dropped', async () => {
    expect(await rulesFor(`${PRELUDE}void p.catch(dropped(silentLogger, 'closing x'));\n`, 'src/store/x.ts')).toEqual([]);
  });

  it('exempts no file: the modes, their parts and the composition root are held to it too', async () => {
    for (const file of ['src/gateway/master/service.ts', 'src/gateway/bridge/service.ts', 'src/gateway/bridge/tap.ts', 'src/gateway/replay.ts', 'src/main.ts']) {
      expect(await rulesFor('const p: Promise<void> = Promise.resolve();\nvoid p.catch(() => {});\n', file), file).toEqual(['no-restricted-syntax']);
    }
  });
});
