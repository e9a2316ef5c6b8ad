/** Which methods each route path has, so that a wrong method is a 405 with `Allow` rather than a 404. */

/** The routes' methods by path pattern, to answer a wrong method with 405 and `Allow`. */
export class RouteMethods {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];
  private readonly byUrl = new Map<string, Set<string>>();

  add(url: string, method: string | readonly string[]): void {
    let methods = this.byUrl.get(url);
    if (!methods) {
      methods = new Set();
      this.byUrl.set(url, methods);
      // `:name` is one segment, `*` anything; every other character stands for itself.
      const source = url
        .split(/(:[A-Za-z0-9_]+|\*)/)
        .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('');
      this.routes.push({ pattern: new RegExp(`^${source}/?$`), methods });
    }
    for (const m of typeof method === 'string' ? [method] : method) methods.add(m.toUpperCase());
  }

  /** The methods the routes matching `path` have, sorted; empty when no route has that path. */
  allowed(path: string): string[] {
    const all = new Set<string>();
    for (const r of this.routes) if (r.pattern.test(path)) for (const m of r.methods) all.add(m);
    return [...all].sort();
  }
}
