import type { Server } from 'node:net';

/** Starts `server` listening on `host:port`; resolves with the address bound (port 0 picks a free one). */
export async function listenOn(server: Server, host: string, port: number): Promise<{ host: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as { address: string; port: number };
  return { host: a.address, port: a.port };
}
