/**
 * A TCP proxy on loopback that hurts the traffic through it, for tests of
 * real sockets: it delays every chunk, resets connections, and cuts (refuses
 * new connections and drops open ones) until healed. TLS runs end to end
 * through it; it sees only bytes.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';

export class FaultyProxy {
  private server: Server | null = null;
  private readonly open = new Set<Socket>();
  private cut = false;
  /** Milliseconds each chunk waits before it is forwarded. */
  delayMs = 0;
  /** Connections accepted, reset and refused so far. */
  readonly stats = { accepted: 0, reset: 0, refused: 0 };

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<number> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  }

  /** Drops every open connection and refuses new ones until {@link FaultyProxy.heal}. */
  cutOff(): void {
    this.cut = true;
    this.resetAll();
  }

  heal(): void {
    this.cut = false;
    this.delayMs = 0;
  }

  /** Resets every open connection (each side sees it closed; the nodes redial). */
  resetAll(): void {
    for (const s of this.open) {
      s.destroy();
      this.stats.reset++;
    }
    this.open.clear();
  }

  async close(): Promise<void> {
    this.resetAll();
    const s = this.server;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private accept(client: Socket): void {
    if (this.cut) {
      this.stats.refused++;
      client.destroy();
      return;
    }
    this.stats.accepted++;
    const upstream = netConnect(this.target.port, this.target.host);
    this.open.add(client);
    this.open.add(upstream);
    const pipe = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (this.delayMs > 0) setTimeout(() => to.writable && to.write(chunk), this.delayMs);
        else if (to.writable) to.write(chunk);
      });
      from.on('close', () => {
        this.open.delete(from);
        to.destroy();
      });
      from.on('error', () => from.destroy());
    };
    pipe(client, upstream);
    pipe(upstream, client);
  }
}
