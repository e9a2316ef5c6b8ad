/** The programs' state file: small JSON beside the store, replaced atomically (write a temporary file, rename). */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ProgramRecord } from './view.js';

export interface ProgramFile {
  load(): Promise<ProgramRecord[]>;
  save(records: readonly ProgramRecord[]): Promise<void>;
}

export function jsonProgramFile(path: string): ProgramFile {
  let chain: Promise<void> = Promise.resolve();
  let n = 0;
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      let doc: { version?: number; programs?: ProgramRecord[] };
      try {
        doc = JSON.parse(text) as typeof doc;
      } catch (err) {
        // Kept aside rather than overwritten by the next save.
        const aside = `${path}.unreadable-${Date.now()}`;
        await rename(path, aside);
        throw new Error(`${path} is not valid JSON (${(err as Error).message}); moved to ${aside}`, { cause: err });
      }
      return Array.isArray(doc.programs) ? doc.programs : [];
    },
    save(records) {
      const text = `${JSON.stringify({ version: 1, programs: records }, null, 1)}\n`;
      // One save at a time, in order: the last state written is the last state asked.
      const next = chain.then(async () => {
        await mkdir(dirname(path), { recursive: true });
        const tmp = `${path}.${process.pid}.${n++}.tmp`;
        await writeFile(tmp, text);
        await rename(tmp, path);
      });
      chain = next.catch(() => undefined /* reported to the caller of this save */);
      return next;
    },
  };
}

/** No file: programs of `flowbus program run` live as long as the command. */
export const noProgramFile: ProgramFile = { load: () => Promise.resolve([]), save: () => Promise.resolve() };
