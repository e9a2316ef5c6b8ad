import type { Command } from 'commander';
import { allParams, findParam, searchParams } from './db.js';
import type { ParamDef } from './types.js';

function access(p: ParamDef): string {
  const rw = `${p.read ? 'R' : ''}${p.write ? 'W' : ''}`;
  return p.highlySecured ? `${rw} factory` : p.secured ? `${rw} secured` : rw;
}

function range(p: ParamDef): string {
  if (p.valueType === 'string' || p.valueType === 'bytes') return p.length > 0 ? `${p.length} bytes` : 'variable length';
  return p.min === null || p.max === null ? '' : `${p.min}..${p.max}`;
}

function describeParam(p: ParamDef): string {
  const lines = [
    `DDE ${p.dde}  ${p.key}  "${p.name}"`,
    `  address     process ${p.process}, FB ${p.fbnr}, wire type 0x${p.wireType.toString(16).padStart(2, '0')} (${p.valueType})${p.channelProcess ? ', per channel' : ''}`,
    `  access      ${access(p)}`,
    `  range       ${range(p) || '-'}`,
  ];
  if (p.unit) lines.push(`  unit        ${p.unit}`);
  if (p.description) lines.push(`  about       ${p.description}`);
  if (p.enumeration?.length) {
    lines.push(`  values${p.bits ? ' (bits)' : ''}`);
    for (const e of p.enumeration) lines.push(`    ${String(p.bits ? '0x' + e.value.toString(16) : e.value).padStart(6)}  ${e.label}`);
  }
  return lines.join('\n');
}

/** `flowbus params [TEXT]`: search the parameter database. */
export function registerParamsCommand(program: Command): void {
  program
    .command('params')
    .description('search the parameter database by DDE number, key, name or words (no TEXT: list all)')
    .argument('[text...]', 'what to look for, e.g. 205, fmeasure, "capacity unit", valve')
    .option('--json', 'print JSON')
    .action((words: string[], opts: { json?: boolean }) => {
      const text = words.join(' ').trim();
      const exact = text ? findParam(text) : undefined;
      const list = exact ? [exact] : text ? searchParams(text, 40).map((h) => h.param) : [...allParams()];
      if (opts.json) {
        console.log(JSON.stringify(list, null, 2));
        return;
      }
      if (exact) {
        console.log(describeParam(exact));
        return;
      }
      if (list.length === 0) {
        console.error(`no parameter matches ${JSON.stringify(text)}`);
        process.exitCode = 1;
        return;
      }
      console.log(`${'DDE'.padStart(4)}  ${'key'.padEnd(28)} ${'access'.padEnd(10)} ${'type'.padEnd(7)} range / unit`);
      for (const p of list) {
        console.log(`${String(p.dde).padStart(4)}  ${p.key.padEnd(28)} ${access(p).padEnd(10)} ${p.valueType.padEnd(7)} ${[range(p), p.unit].filter(Boolean).join(' ')}`);
      }
    });
}
