import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A stand-in for Slack's Socket Mode endpoint: the WebSocket URL that apps.connections.open hands
 * out (see SlackApiServer.socketModeUrl). Speaks RFC 6455 itself (text, ping/pong and close
 * frames; the client masks, the server does not), says `hello` on connect as Slack does, and
 * delivers envelopes (interactive payloads, slash commands) that the app must acknowledge with
 * their envelope_id within Slack's 3 seconds.
 */
export class SlackSocketServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly waiting = new Map<string, (ack: Record<string, unknown>) => void>();
  private pinger?: NodeJS.Timeout;
  /** Every acknowledgement the app sent, in order. */
  readonly acks: Record<string, unknown>[] = [];
  connections = 0;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((_req, res) => res.writeHead(426).end('upgrade required'));
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket) => this.accept(req, socket));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/link/?ticket=test`;
    // Slack pings every few seconds; the client treats a long silence as a dead connection.
    this.pinger = setInterval(() => this.sockets.forEach((s) => s.write(frame(0x9, Buffer.from('ping')))), 5000);
    this.pinger.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.pinger);
    for (const s of this.sockets) s.end(frame(0x8, Buffer.from([0x03, 0xe8])));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Delivers one envelope and resolves with the app's acknowledgement of it. */
  deliver(type: 'interactive' | 'slash_commands', payload: Record<string, unknown>, timeoutMs = 3000): Promise<Record<string, unknown>> {
    const socket = [...this.sockets][0];
    if (!socket) return Promise.reject(new Error('no Socket Mode connection is open'));
    const envelopeId = randomUUID();
    const acked = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`envelope ${type} not acknowledged within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(envelopeId, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
    });
    socket.write(frame(0x1, Buffer.from(JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: type === 'slash_commands', retry_attempt: 0, retry_reason: '' }))));
    return acked;
  }

  private accept(req: IncomingMessage, socket: Socket): void {
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string') return void socket.destroy();
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`, '', ''].join('\r\n'));
    this.sockets.add(socket);
    this.connections += 1;
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => this.sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const f = parseFrame(buffered);
        if (!f) break;
        buffered = buffered.subarray(f.length);
        if (f.opcode === 0x9) socket.write(frame(0xa, f.payload));
        else if (f.opcode === 0x8) socket.end(frame(0x8, f.payload.subarray(0, 2)));
        else if (f.opcode === 0x1) this.onMessage(f.payload.toString('utf8'));
      }
    });
    socket.write(frame(0x1, Buffer.from(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'local-stand-in', approximate_connection_time: 18060 }, connection_info: { app_id: 'A0TEST' } }))));
  }

  private onMessage(text: string): void {
    const msg = JSON.parse(text) as Record<string, unknown>;
    const id = msg.envelope_id;
    if (typeof id !== 'string') return;
    this.acks.push(msg);
    this.waiting.get(id)?.(msg);
    this.waiting.delete(id);
  }
}

/** One unmasked, unfragmented server frame. */
function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(len)]);
  return Buffer.concat([head, payload]);
}

function bigLength(len: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(len));
  return b;
}

/** One complete client frame at the start of `buf` (unmasked payload and its total length), or undefined until more arrives. */
function parseFrame(buf: Buffer): { opcode: number; payload: Buffer; length: number } | undefined {
  if (buf.length < 2) return undefined;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const maskOffset = offset;
  if (masked) offset += 4;
  if (buf.length < offset + len) return undefined;
  const payload = Buffer.from(buf.subarray(offset, offset + len));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buf[maskOffset + (i % 4)];
  return { opcode, payload, length: offset + len };
}
