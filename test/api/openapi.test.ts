import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderOpenApi } from '../../src/api/index.js';

const root = new URL('../../', import.meta.url);

describe('openapi/openapi.json', () => {
  it('matches what the app generates', async () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
    const committed = readFileSync(new URL('openapi/openapi.json', root), 'utf8');
    const generated = await renderOpenApi(pkg.version);
    if (committed !== generated) {
      expect.fail('openapi/openapi.json is out of date with the route schemas: run `npx tsx scripts/openapi.ts` and commit the result');
    }
  });

  it('documents every route with the error shape and the bearer scheme on writes', async () => {
    const doc = JSON.parse(await renderOpenApi('0.0.0')) as {
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, { content?: Record<string, { schema: { required?: string[] } }> }> }>>;
    };
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/v1/bus',
      '/api/v1/discover',
      '/api/v1/events',
      '/api/v1/instruments',
      '/api/v1/instruments/{node}',
      '/api/v1/instruments/{node}/alarm-settings',
      '/api/v1/instruments/{node}/alarms/reset',
      '/api/v1/instruments/{node}/counter',
      '/api/v1/instruments/{node}/counter/reset',
      '/api/v1/instruments/{node}/fluid',
      '/api/v1/instruments/{node}/fluids',
      '/api/v1/instruments/{node}/parameters',
      '/api/v1/instruments/{node}/parameters/{param}',
      '/api/v1/instruments/{node}/parameters/{param}/history',
      '/api/v1/instruments/{node}/snapshot',
      '/api/v1/parameters',
      '/api/v1/programs',
      '/api/v1/programs/{id}',
      '/api/v1/programs/{id}/abort',
      '/api/v1/programs/{id}/pause',
      '/api/v1/programs/{id}/resume',
      '/api/v1/transactions',
      '/healthz',
      '/readyz',
    ]);
    const put = doc.paths['/api/v1/instruments/{node}/parameters/{param}']?.put;
    expect(put?.security).toEqual([{ bearer: [] }]);
    expect(put?.responses['401']?.content?.['application/json']?.schema.required).toEqual(['code', 'message', 'details']);
    expect(doc.paths['/api/v1/instruments/{node}/parameters']?.put?.security).toEqual([{ bearer: [] }]);
    for (const p of ['fluid', 'counter', 'alarm-settings']) expect(doc.paths[`/api/v1/instruments/{node}/${p}`]?.put?.security).toEqual([{ bearer: [] }]);
  });
});
