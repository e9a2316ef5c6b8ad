/**
 * MySQL server errors that are configuration, not outage: a database that does not exist, a wrong
 * user or password, a user without rights on the database. Each becomes a GatewayError that says
 * what to do. The password is never part of the message (the server's own text does not carry it).
 */
import { GatewayError } from '../shared/index.js';
import type { StoreTarget } from './url.js';

/** The server's error number of `err` or of an error it wraps (a failed migration wraps the server's). */
function serverErrno(err: unknown): number | undefined {
  let e = err;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const errno = (e as { errno?: unknown }).errno;
    if (typeof errno === 'number') return errno;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The GatewayError for a configuration problem the server reported, or undefined for anything else. */
export function storeConfigProblem(err: unknown, target: StoreTarget): GatewayError | undefined {
  if (target.dialect !== 'mysql') return undefined;
  const errno = serverErrno(err);
  const where = `${target.host}:${target.port}`;
  const db = target.database.replace(/`/g, '``');
  switch (errno) {
    case 1049: // ER_BAD_DB_ERROR
      return new GatewayError(
        'STORE_NO_DATABASE',
        `the database ${target.database} does not exist on ${where}: create it with CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4 (and GRANT ALL ON \`${db}\`.* TO the store's user), then start again or run flowbus db migrate`,
        { host: target.host, port: target.port, database: target.database },
        { cause: err },
      );
    case 1045: // ER_ACCESS_DENIED_ERROR
      return new GatewayError(
        'STORE_AUTH',
        `access denied for user ${target.user} on ${where}: check the user and password in the store URL (better given in FLOWBUS_STORE_URL, which ps does not show)`,
        { host: target.host, port: target.port, user: target.user },
        { cause: err },
      );
    case 1044: // ER_DBACCESS_DENIED_ERROR
      return new GatewayError(
        'STORE_AUTH',
        `user ${target.user} has no access to the database ${target.database} on ${where}: GRANT ALL ON \`${db}\`.* TO the user`,
        { host: target.host, port: target.port, user: target.user, database: target.database },
        { cause: err },
      );
    default:
      return undefined;
  }
}
