// The stand-in's listening socket: start on a port, go down (stop listening and drop every
// connection, so clients see ECONNREFUSED) and come back up on the same port.
import type { Server } from 'node:https';
import type { Socket } from 'node:net';

export class Listener {
  private readonly sockets = new Set<Socket>();
  private down = false;
  private port = 0;

  /** `beforeDrop` runs as the server stops, before open connections are destroyed. */
  constructor(
    private readonly server: Server,
    private readonly host: string,
    private readonly beforeDrop: () => void,
  ) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Listens on `port` (0: an ephemeral one) and returns the port bound. */
  async start(port: number): Promise<number> {
    await this.listen(port);
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  async setDown(value: boolean): Promise<void> {
    if (value === this.down) return;
    this.down = value;
    if (value) await this.stop();
    else await this.listen(this.port);
  }

  stop(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.beforeDrop();
      for (const s of this.sockets) s.destroy();
    });
  }

  private listen(port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }
}
