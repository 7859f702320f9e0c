/**
 * A TCP proxy for tests: a process connects to `port` instead of the real
 * service, and the test cuts that one process off (every connection dropped,
 * new ones closed at once) while the service stays up for everyone else,
 * then lets it back in.
 */
import { type Server, type Socket, connect, createServer } from 'node:net'

export class TcpProxy {
  private readonly pairs = new Set<Socket>()
  private cutOff = false

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined
    const server = createServer((client) => proxy!.accept(client, targetPort, targetHost))
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))
    })
    proxy = new TcpProxy(server, port)
    return proxy
  }

  private accept(client: Socket, targetPort: number, targetHost: string): void {
    if (this.cutOff) {
      client.destroy()
      return
    }
    const upstream = connect(targetPort, targetHost)
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      this.pairs.add(a)
      a.on('error', () => b.destroy())
      a.on('close', () => {
        this.pairs.delete(a)
        b.destroy()
      })
      a.pipe(b)
    }
  }

  /** Drops every connection and closes new ones at once, as a network cut would. */
  cut(): void {
    this.cutOff = true
    for (const s of this.pairs) s.destroy()
  }

  /** Lets connections through again. */
  restore(): void {
    this.cutOff = false
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
