/**
 * A URL without the password in its user info (`mysql://flow:***@db:3306/flowbus`), for logs,
 * status and messages. Everything up to the last `@` counts as user info, as URL parsers read it,
 * so a password holding `@`, `/` or `:` is hidden whole; a URL without a password is unchanged.
 */
export function redactUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([\s\S]*)$/i.exec(url);
  if (!m) return url;
  const rest = m[2] as string;
  const at = rest.lastIndexOf('@');
  const colon = at < 0 ? -1 : rest.slice(0, at).indexOf(':');
  if (colon < 0) return url;
  return `${m[1] as string}${rest.slice(0, colon)}:***@${rest.slice(at + 1)}`;
}
