/**
 * The source of `get(path, agent)` for the benches' HTTP clients, which run as code strings in
 * worker threads: a GET that resolves with the status code (0 on a socket error) once the body
 * is read. The worker's code must define `http` (node:http), `host` and `port` before it.
 */
export const WORKER_HTTP_GET = `
function get(path, agent) {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, agent }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode || 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
  });
}
`;
