import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** A local stand-in's HTTP server: each request is handed over with its whole body and its path. */
export function stubServer(handle: (req: IncomingMessage, res: ServerResponse, raw: string, path: string) => void): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8'), (req.url ?? '').split('?')[0]));
  });
}
