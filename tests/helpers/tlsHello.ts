/**
 * A raw TLS peer for the transport tests: connects, says Grey's hello as
 * some id, and reads the first frame answered, so a test sees exactly what
 * a node accepts or refuses at the handshake.
 */
import tls from 'node:tls';
import type { TlsIdentity } from '../../system/certificates.js';
import { msgpackCodec } from '../../system/codec.js';
import { PROTOCOL_VERSION } from '../../system/tlsNetwork.js';

/** Connects to `port` with `identity`, says hello as `id`, and resolves with the first frame answered (or the error, or 'closed'). */
export function hello(port: number, identity: TlsIdentity, id: string, version = PROTOCOL_VERSION): Promise<unknown> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, cert: identity.cert, key: identity.key, ca: identity.ca, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' }, () => {
      const body = msgpackCodec.encode({ grey: version, id });
      const frame = Buffer.alloc(4 + body.byteLength);
      frame.writeUInt32BE(body.byteLength, 0);
      frame.set(body, 4);
      socket.write(frame);
    });
    let buf = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        resolve(msgpackCodec.decode(buf.subarray(4, 4 + buf.readUInt32BE(0))));
        socket.destroy();
      }
    });
    socket.on('error', (e) => resolve(e));
    socket.on('close', () => resolve('closed'));
  });
}
