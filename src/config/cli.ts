import type { Command } from 'commander';
import { isGatewayError } from '../shared/index.js';
import { loadConfig, readExampleConfig } from './load.js';
import { summariseConfig } from './summary.js';

type Print = (line: string) => void;

const stdout: Print = (l) => process.stdout.write(l + '\n');
const stderr: Print = (l) => process.stderr.write(l + '\n');

/**
 * Runs `flowbus config check FILE`. Returns the exit code: 0 when the file is valid, 1 when
 * it is missing, unreadable, not YAML or has wrong fields (every problem is printed).
 */
export async function runConfigCheck(file: string, out: Print = stdout, err: Print = stderr): Promise<number> {
  try {
    const config = await loadConfig(file);
    out(`${file}: ok`);
    out(summariseConfig(config));
    return 0;
  } catch (e) {
    if (!isGatewayError(e) || !e.code.startsWith('CONFIG_')) throw e;
    err(e.message);
    return 1;
  }
}

/** Adds `flowbus config check FILE` and `flowbus config example`. */
export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('check a config file or print the commented example');
  config
    .command('check')
    .argument('<file>', 'YAML config file')
    .description('validate a config file and summarise what it sets up; exit code 1 when it is invalid')
    .action(async (file: string) => {
      process.exitCode = await runConfigCheck(file);
    });
  config
    .command('example')
    .description('print the commented example config (flowbus.example.yaml)')
    .action(async () => {
      process.stdout.write(await readExampleConfig());
    });
}
