import { connect, type Socket } from 'node:net';

/**
 * The intake benchmark's load generator: one keep-alive HTTP/1.1 connection sending pre-encoded
 * requests one at a time, reading only the status line and Content-Length of each answer.
 *
 * Why not node:http or undici: the generator shares the machine's two cores with the bot, the
 * worker and Redis, so its CPU shows up as the bot's latency. Measured per request on this
 * machine: node:http ≈ 0.15–0.19 ms, undici's Pool ≈ 0.09–0.12 ms, this client ≈ 0.03 ms
 * (wrk and autocannon are built this way for the same reason).
 */
export class KeepAliveConnection {
  private readonly socket: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting?: { resolve: (status: number) => void; reject: (err: Error) => void };
  private failure?: Error;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
      this.readResponse();
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      this.waiting?.reject(err);
      this.waiting = undefined;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed by the server')));
  }

  static open(host: string, port: number): Promise<KeepAliveConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(new KeepAliveConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** `POST path` with a JSON body, encoded once so sending costs one write. */
  static encodePost(path: string, headers: Record<string, string>, body: string): Buffer {
    const head = [`POST ${path} HTTP/1.1`, 'host: 127.0.0.1', 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`];
    for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
    return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`);
  }

  /** Sends one request and resolves with the response's status code once its body has arrived. */
  send(request: Buffer): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiting) return Promise.reject(new Error('one request at a time per connection'));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private readResponse(): void {
    const headEnd = this.buffered.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = this.buffered.subarray(0, headEnd).toString('latin1');
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) {
      this.waiting?.reject(new Error(`response without Content-Length: ${head.split('\r\n')[0]}`));
      this.waiting = undefined;
      return;
    }
    const end = headEnd + 4 + Number(length[1]);
    if (this.buffered.length < end) return;
    this.buffered = this.buffered.subarray(end);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve(Number(head.slice(9, 12)));
  }
}
