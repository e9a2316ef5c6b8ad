/**
 * Serves the dashboard (web/, bundled by Vite into dist/dashboard/) on the API's port: `/` is its
 * page, `/assets/*` its scripts and styles. The files are read into memory once, with the gzip and
 * brotli copies the build made, so that a request costs no disk read and no compression. Without
 * a built dashboard, `/` redirects to the API documentation instead.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/**
 * The page may load only its own files and talk only to its own origin: a script injected through
 * a value shown on the page (a user tag, say) could not send the token anywhere.
 */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

interface StaticFile {
  readonly type: string;
  readonly body: Buffer;
  readonly gz?: Buffer;
  readonly br?: Buffer;
  readonly etag: string;
  /** Hashed file names never change content: cached for a year. */
  readonly immutable: boolean;
}

export interface Dashboard {
  readonly dir: string;
  /** URL path (`/index.html`, `/assets/index-x.js`) -> file. */
  readonly files: ReadonlyMap<string, StaticFile>;
}

/** Where the built dashboard is: dist/dashboard/ beside the compiled code, or under dist/ when run from the sources (tsx). */
export function findDashboardDir(): string | undefined {
  for (const rel of ['../../dashboard/', '../../dist/dashboard/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

/** Reads a built dashboard into memory; undefined when `dir` holds none. */
export function loadDashboard(dir: string | undefined): Dashboard | undefined {
  if (!dir || !existsSync(join(dir, 'index.html'))) return undefined;
  const files = new Map<string, StaticFile>();
  const walk = (abs: string, url: string) => {
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      const path = join(abs, e.name);
      if (e.isDirectory()) walk(path, `${url}${e.name}/`);
      else if (e.isFile() && !e.name.endsWith('.gz') && !e.name.endsWith('.br')) {
        const type = TYPES[extname(e.name)];
        if (!type) continue;
        const body = readFileSync(path);
        const gz = existsSync(`${path}.gz`) ? readFileSync(`${path}.gz`) : undefined;
        const br = existsSync(`${path}.br`) ? readFileSync(`${path}.br`) : undefined;
        files.set(`${url}${e.name}`, {
          type,
          body,
          ...(gz ? { gz } : {}),
          ...(br ? { br } : {}),
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
          immutable: url.startsWith('/assets/'),
        });
      }
    }
  };
  walk(dir, '/');
  return { dir, files };
}

function send(request: FastifyRequest, reply: FastifyReply, file: StaticFile): FastifyReply {
  reply.header('content-type', file.type).header('etag', file.etag).header('vary', 'accept-encoding').header('x-content-type-options', 'nosniff');
  reply.header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  if (file.type.startsWith('text/html')) reply.header('content-security-policy', DASHBOARD_CSP).header('referrer-policy', 'no-referrer');
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  const accept = String(request.headers['accept-encoding'] ?? '');
  if (file.br && /\bbr\b/.test(accept)) return reply.header('content-encoding', 'br').send(file.br);
  if (file.gz && /\bgzip\b/.test(accept)) return reply.header('content-encoding', 'gzip').send(file.gz);
  return reply.send(file.body);
}

/** `/` and `/assets/*` from the dashboard, or `/` as a redirect to `fallback` without one. */
export function dashboardRoutes(app: FastifyInstance, dashboard: Dashboard | undefined, fallback: string): void {
  const index = dashboard?.files.get('/index.html');
  if (!dashboard || !index) {
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect(fallback, 302));
    return;
  }
  app.get('/', { schema: { hide: true } }, async (request, reply) => send(request, reply, index));
  app.get<{ Params: { '*': string } }>('/assets/*', { schema: { hide: true } }, async (request, reply) => {
    const file = dashboard.files.get(`/assets/${request.params['*']}`);
    if (!file) return reply.callNotFound();
    return send(request, reply, file);
  });
}
