/** Parses the store URL: `sqlite:PATH` (`sqlite::memory:` for tests) or `mysql://user:pass@host:3306/db`. */
import { GatewayError, redactUrl } from '../shared/index.js';

export type StoreTarget =
  | { readonly dialect: 'sqlite'; readonly path: string }
  | {
      readonly dialect: 'mysql';
      readonly host: string;
      readonly port: number;
      readonly user: string;
      readonly password: string;
      readonly database: string;
    };

export function parseStoreUrl(url: string): StoreTarget {
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path and sqlite://./rel
    if (path.length === 0) throw new GatewayError('STORE_BAD_URL', `no file in store URL ${JSON.stringify(url)}: write sqlite:./data/flowbus.db`, { url });
    return { dialect: 'sqlite', path };
  }
  if (url.startsWith('mysql://')) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new GatewayError('STORE_BAD_URL', 'store URL is not a valid mysql:// URL (mysql://user:pass@host:3306/db)', {});
    }
    const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
    if (!database) throw new GatewayError('STORE_BAD_URL', 'the mysql:// store URL names no database (mysql://user:pass@host:3306/db)', {});
    return {
      dialect: 'mysql',
      host: u.hostname || '127.0.0.1',
      port: u.port ? Number(u.port) : 3306,
      user: decodeURIComponent(u.username) || 'root',
      password: decodeURIComponent(u.password),
      database,
    };
  }
  throw new GatewayError('STORE_BAD_URL', `unsupported store URL ${JSON.stringify(redactUrl(url))}: use sqlite:PATH or mysql://user:pass@host:3306/db`, {});
}

/**
 * Where a store spools by default: beside the store it belongs to, so that two gateways in one
 * folder with their own stores never share a spool. `sqlite:./data/flowbus.db` spools in
 * `./data/flowbus.db.spool`; a MySQL store in `./data/mysql-HOST-PORT-DATABASE.spool`.
 */
export function defaultSpoolDir(url: string): string {
  const target = parseStoreUrl(url);
  if (target.dialect === 'sqlite') return target.path === ':memory:' ? './data/sqlite-memory.spool' : `${target.path}.spool`;
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return `./data/mysql-${safe(target.host)}-${target.port}-${safe(target.database)}.spool`;
}

/** Where every store spooled before the default went beside the store; kept while it holds rows. */
export const LEGACY_SPOOL_DIR = './data/spool';

/** The URL without its password, for logs and status. */
export function redactStoreUrl(url: string): string {
  return redactUrl(url);
}
