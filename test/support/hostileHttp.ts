// Raw HTTP for hostile requests (what fetch will not send: lying lengths, cut-off or trickled
// bodies, oversized headers) and the bodies attackers use: gzip bombs, multipart uploads, deep
// JSON. Shared by the intake e2e tests and the fuzz.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';

export interface RawResponse {
  /** 0 when the connection closed without an answer. */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A POST whose body the test writes itself (all at once, in pieces, or never). The response
 * resolves as soon as the server answers, even mid-upload; a connection closed without an
 * answer resolves with status 0.
 */
export function startPost(url: string, headers: http.OutgoingHttpHeaders): { request: http.ClientRequest; response: Promise<RawResponse> } {
  const request = http.request(url, { method: 'POST', headers, agent: false });
  const response = new Promise<RawResponse>((resolve) => {
    let settled = false;
    const settle = (value: RawResponse) => {
      if (!settled) resolve(value);
      settled = true;
    };
    request.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      const done = () => settle({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    // EPIPE / ECONNRESET: the server closed while the upload went on; the answer (if any) counts.
    request.on('error', () => setTimeout(() => settle({ status: 0, headers: {}, body: '' }), 50));
    request.on('close', () => setTimeout(() => settle({ status: 0, headers: {}, body: '' }), 50));
  });
  return { request, response };
}

export function rawPost(url: string, headers: http.OutgoingHttpHeaders, body: Buffer | string): Promise<RawResponse> {
  const { request, response } = startPost(url, headers);
  request.end(body);
  return response;
}

/** Bytes on a bare socket; resolves with what came back when the server closes (or after waitMs). */
export function rawSocket(port: number, data: string, waitMs: number): Promise<{ reply: string; closedAfterMs: number | null }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let reply = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(data));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ reply, closedAfterMs: null });
    }, waitMs);
    socket.on('data', (d) => (reply += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ reply, closedAfterMs: Date.now() - started });
    });
  });
}

/** `megabytes` of zeros, gzipped as it streams (600 MB → about 600 KB on the wire). */
export function gzipBomb(megabytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const gzip = zlib.createGzip({ level: 9 });
    const out: Buffer[] = [];
    gzip.on('data', (d: Buffer) => out.push(d));
    gzip.on('end', () => resolve(Buffer.concat(out)));
    gzip.on('error', reject);
    const chunk = Buffer.alloc(1024 * 1024);
    let written = 0;
    const write = () => {
      while (written < megabytes) {
        written++;
        if (!gzip.write(chunk)) {
          gzip.once('drain', write);
          return;
        }
      }
      gzip.end();
    };
    write();
  });
}

/** A real multipart/form-data upload: one file part of `bytes` bytes. */
export function multipartUpload(bytes: number): { contentType: string; body: Buffer } {
  const boundary = `----upload${randomUUID()}`;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      Buffer.alloc(bytes, 0x41),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
  };
}

/** `depth` nested arrays: "[[[…]]]". */
export function nestedArrays(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}
