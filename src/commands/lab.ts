/** `flowbus fluids NODE`, `flowbus fluid NODE NAME|NUMBER`, `flowbus counter NODE [--reset] [--limit N] [--mode M]`: one-shot, through a port. */
import type { Command } from 'commander';
import { Priority } from '../bus/index.js';
import { COUNTER_PARAMS, counterView, findFluid, gotFromResults, listFluids, RESET_COUNTER } from '../gateway/index.js';
import { resolveParam, validateValue } from '../params/index.js';
import { GatewayError } from '../shared/index.js';
import type { SimulatorFactory } from '../transport/index.js';
import { openPort, parseNode, portOptions, run, type PortOptions } from './oneshot.js';

export function registerLabCommands(program: Command, simulator: SimulatorFactory | undefined): void {
  portOptions(program.command('fluids').description("list an instrument's fluid sets (selects each in turn, then the one selected before again)").argument('<node>', 'node address'))
    .option('--force', 'list even with a setpoint other than 0')
    .action((nodeText: string, opts: PortOptions & { force?: boolean }) =>
      run(async () => {
        const node = parseNode(nodeText);
        const port = await openPort(opts, simulator);
        try {
          const list = await listFluids(port.client, node, `node ${node}`, opts.force ? { force: true } : {});
          if (opts.json) console.log(JSON.stringify(list, null, 2));
          else for (const f of list.fluids) console.log(`${f.index === list.active ? '*' : ' '} ${String(f.index).padStart(2)}  ${f.name.padEnd(10)}  ${String(f.capacity ?? '?')} ${f.unit ?? ''}${f.density !== undefined ? `  density ${f.density} kg/m3` : ''}`);
        } finally {
          await port.close();
        }
      }),
    );

  portOptions(program.command('fluid').description('select another fluid set by number or name').argument('<node>', 'node address').argument('<fluid>', 'fluid set number or name, e.g. 3 or N2'))
    .option('--force', 'by name: list the fluid sets even with a setpoint other than 0')
    .action((nodeText: string, fluid: string, opts: PortOptions & { force?: boolean }) =>
      run(async () => {
        const node = parseNode(nodeText);
        const port = await openPort(opts, simulator);
        try {
          const index = /^\d+$/.test(fluid) ? Number(fluid) : findFluid(await listFluids(port.client, node, `node ${node}`, opts.force ? { force: true } : {}), fluid).index;
          const param = resolveParam('fluidsetIndex');
          await port.client.write(node, [{ param, value: validateValue(param, index) }], { priority: Priority.Interactive });
          const got = gotFromResults(await port.client.read(node, ['fluidsetIndex', 'fluidName', 'capacity', 'capacityUnit'].map((k) => resolveParam(k))));
          const shown = Object.fromEntries([...got].map(([k, v]) => [k, v instanceof GatewayError ? `error ${v.code}` : typeof v === 'string' ? v.trimEnd() : v]));
          console.log(opts.json ? JSON.stringify(shown, null, 2) : Object.entries(shown).map(([k, v]) => `${k}=${String(v)}`).join('  '));
        } finally {
          await port.close();
        }
      }),
    );

  portOptions(program.command('counter').description('read the counter (totaliser); reset it, set its batch limit or mode').argument('<node>', 'node address'))
    .option('--reset', 'reset the counter to 0 (reset 1)')
    .option('--limit <n>', 'batch limit, in the counter unit')
    .option('--mode <mode>', '0/off, 1 continuous, 2 up to the limit (number or label)')
    .action((nodeText: string, opts: PortOptions & { reset?: boolean; limit?: string; mode?: string }) =>
      run(async () => {
        const node = parseNode(nodeText);
        const values: { param: ReturnType<typeof resolveParam>; value: number | string }[] = [];
        if (opts.limit !== undefined) values.push({ param: resolveParam('counterLimit'), value: validateValue('counterLimit', Number(opts.limit)) as number });
        if (opts.mode !== undefined) values.push({ param: resolveParam('counterMode'), value: validateValue('counterMode', /^\d+$/.test(opts.mode) ? Number(opts.mode) : opts.mode) as number });
        const port = await openPort(opts, simulator);
        try {
          if (values.length > 0) await port.client.write(node, values, { priority: Priority.Interactive });
          if (opts.reset) await port.client.write(node, [{ param: resolveParam('reset'), value: RESET_COUNTER }], { priority: Priority.Interactive });
          const c = counterView(`node ${node}`, gotFromResults(await port.client.read(node, [...COUNTER_PARAMS, 'alarmInfo'].map((k) => resolveParam(k)))));
          console.log(opts.json ? JSON.stringify(c, null, 2) : `counter ${c.value} ${c.unit ?? ''}  limit ${c.limit}  mode ${c.mode} (${c.modeLabel ?? '?'})${c.batchReached ? '  batch limit reached' : ''}`);
        } finally {
          await port.close();
        }
      }),
    );
}
