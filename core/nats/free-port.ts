import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. Another process may take it before
 * nats-server binds it; callers retry the start when the bind fails.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected address ${String(address)} for a TCP listener`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
