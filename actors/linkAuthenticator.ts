import { createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { msgpackCodec, type Codec } from '../system/codec.js';
import { lengthPrefixed } from './domainEncoding.js';
import type { CheckedCertificate } from './joinAuthenticator.js';

/**
 * Message authentication between nodes where no TLS link does it (the
 * simulation): every node-to-node message carries an HMAC-SHA256 under a
 * key its two ends share, over the sender, the receiver, the message type,
 * a per-link sequence number and the encoded bytes. A forged, altered or
 * replayed message is dropped and reported.
 *
 * The key comes from an authenticated exchange bound to the certificates
 * the nodes joined with: each end sends a link hello (its certificate, an
 * X25519 public key for this incarnation, both signed with the key its
 * certificate binds); the other checks the certificate against the cluster
 * CA, that it names the sender, that the sender is not blocked, and the
 * signature, then derives the pair key by X25519 and HKDF. A node that
 * restarts makes a new X25519 key, so messages of its old incarnation no
 * longer verify; a hello older than the one in force is refused.
 */

/** The message type of a link hello. */
export const LINK_HELLO = 'grey.link.hello';

/** A link hello: who the sender is (certificate), its key-agreement key for this incarnation, and its signature over both. */
export interface LinkHello {
  certificate: Uint8Array;
  /** Raw X25519 public key. */
  kx: Uint8Array;
  /** The sender's incarnation (grows with each restart): a hello older than the one in force is refused. */
  incarnation: number;
  /** Ed25519 signature, by the certificate's key, over {@link linkHelloBytes}. */
  signature: Uint8Array;
  /** The receiver's key-agreement key (hex) the sender has a session with, if any: a hint, so that only a peer without the session answers. */
  knows: string | null;
}

/** An authenticated message as it travels. */
export interface SealedMessage {
  /** Sequence number on this directed link, from 1. */
  s: number;
  /** The payload, encoded. */
  b: Uint8Array;
  /** HMAC-SHA256 (first 16 bytes) over sender, receiver, type, sequence and bytes. */
  m: Uint8Array;
}

/** Why a message was dropped. */
export type LinkDropReason = 'NoSession' | 'BadMac' | 'Replayed' | 'Malformed' | 'BadHello' | 'Refused';

/** The bytes a link hello's signature covers. */
export function linkHelloBytes(name: string, kx: Uint8Array, incarnation: number): Uint8Array {
  return lengthPrefixed('grey/link-hello/v1', name, kx, incarnation);
}

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const MAC_BYTES = 16;
/** Sequence numbers a receiver remembers below the highest seen (a sliding window, as IPsec's). */
const REPLAY_WINDOW = 64;

/** An X25519 key pair from 32 secret bytes (in the simulation drawn from the seed; in real mode from a CSPRNG). */
export function keyAgreementKey(secret: Uint8Array): { privateKey: KeyObject; publicKey: Uint8Array } {
  if (!(secret instanceof Uint8Array) || secret.length !== 32) throw new TypeError('keyAgreementKey: the secret must be 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: Uint8Array.from(spki.subarray(spki.length - 32)) };
}

interface Session {
  key: Buffer;
  peerKx: string;
  incarnation: number;
  /** Next sequence number to send. */
  sendSeq: number;
  /** Highest sequence number received, and a bitmap of the REPLAY_WINDOW below it (bit i: top − i seen). */
  top: number;
  seen: bigint;
}

export interface LinkAuthenticatorDeps {
  self: string;
  incarnation: number;
  /** This node's certificate (DER). */
  certificate: Uint8Array;
  /** Signs with the certificate's key. */
  sign(data: Uint8Array): Uint8Array;
  /** 32 secret bytes for this incarnation's X25519 key. */
  kxSecret: Uint8Array;
  clock: { now(): number };
  /** Checks a peer's certificate against the cluster CA (throws with a `code` when it fails). */
  checkCertificate(der: Uint8Array, now: number): CheckedCertificate;
  verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean;
  /** Why `name` (holding the key `fingerprint`) may not talk to this node, or null (blocked, say). */
  refusal(name: string, fingerprint: string): string | null;
  /** Sends on the raw network (no authentication). */
  rawSend(to: string, type: string, payload: unknown): void;
  /** A message was dropped. */
  onDrop(from: string, type: string, reason: LinkDropReason, detail: string): void;
  codec?: Codec;
  /** Messages kept per peer while its session is being set up. Default 256. */
  maxQueued?: number;
}

/** One node's end of every authenticated link (see the file's doc). */
export class LinkAuthenticator {
  private readonly sessions = new Map<string, Session>();
  private readonly queued = new Map<string, Array<{ type: string; payload: unknown }>>();
  private readonly helloSentAt = new Map<string, number>();
  private readonly kx: { privateKey: KeyObject; publicKey: Uint8Array };
  private readonly hello: Omit<LinkHello, 'knows'>;
  private readonly kxHex: string;
  private readonly codec: Codec;
  private readonly maxQueued: number;

  constructor(private readonly deps: LinkAuthenticatorDeps) {
    this.kx = keyAgreementKey(deps.kxSecret);
    this.codec = deps.codec ?? msgpackCodec;
    this.maxQueued = deps.maxQueued ?? 256;
    this.kxHex = Buffer.from(this.kx.publicKey).toString('hex');
    this.hello = {
      certificate: deps.certificate,
      kx: this.kx.publicKey,
      incarnation: deps.incarnation,
      signature: deps.sign(linkHelloBytes(deps.self, this.kx.publicKey, deps.incarnation)),
    };
  }

  /** Whether a session with `peer` is set up. */
  hasSession(peer: string): boolean {
    return this.sessions.has(peer);
  }

  /** Sends `payload` to `peer` authenticated; held (bounded) until the link's session exists. */
  send(to: string, type: string, payload: unknown): void {
    const s = this.sessions.get(to);
    if (s === undefined) {
      let q = this.queued.get(to);
      if (!q) this.queued.set(to, (q = []));
      q.push({ type, payload });
      if (q.length > this.maxQueued) q.shift(); // the oldest goes: Raft resends what matters
      this.sendHello(to, false);
      return;
    }
    const bytes = this.codec.encode(payload);
    const seq = s.sendSeq++;
    this.deps.rawSend(to, type, { s: seq, b: bytes, m: this.mac(s.key, this.deps.self, to, type, seq, bytes) } satisfies SealedMessage);
  }

  /** A message from `from`: the payload when it is authentic, else null (dropped and reported). */
  receive(from: string, type: string, payload: unknown): unknown {
    if (type === LINK_HELLO) {
      this.onHello(from, payload);
      return null;
    }
    const m = payload as SealedMessage | null;
    if (m === null || typeof m !== 'object' || !Number.isSafeInteger(m.s) || m.s < 1 || !(m.b instanceof Uint8Array) || !(m.m instanceof Uint8Array)) {
      return this.drop(from, type, 'Malformed', 'not an authenticated message');
    }
    const s = this.sessions.get(from);
    if (s === undefined) {
      this.sendHello(from, false); // it may have restarted, or we did
      return this.drop(from, type, 'NoSession', `no session with ${from}`);
    }
    const want = this.mac(s.key, from, this.deps.self, type, m.s, m.b);
    if (m.m.length !== MAC_BYTES || !timingSafeEqual(want, m.m)) return this.drop(from, type, 'BadMac', `message ${m.s} from ${from} fails its MAC`);
    if (!this.accept(s, m.s)) return this.drop(from, type, 'Replayed', `message ${m.s} from ${from} was seen before or is older than the window`);
    return this.codec.decode(m.b);
  }

  /** Ends the session with `peer` at once (it was blocked): its messages are dropped from now on. */
  cut(peer: string): void {
    this.sessions.delete(peer);
    this.queued.delete(peer);
  }

  private onHello(from: string, payload: unknown): void {
    const h = payload as LinkHello | null;
    if (h === null || typeof h !== 'object' || !(h.certificate instanceof Uint8Array) || !(h.kx instanceof Uint8Array) || h.kx.length !== 32 || !Number.isSafeInteger(h.incarnation) || !(h.signature instanceof Uint8Array)) {
      this.drop(from, LINK_HELLO, 'BadHello', 'malformed link hello');
      return;
    }
    let cert: CheckedCertificate;
    try {
      cert = this.deps.checkCertificate(h.certificate, this.deps.clock.now());
    } catch (err) {
      this.drop(from, LINK_HELLO, 'BadHello', `certificate refused: ${(err as Error).message}`);
      return;
    }
    if (cert.role !== 'node' || cert.name !== from) {
      this.drop(from, LINK_HELLO, 'BadHello', `a ${cert.role} certificate for ${cert.name} presented by ${from}`);
      return;
    }
    const refused = this.deps.refusal(cert.name, cert.fingerprint);
    if (refused !== null) {
      this.cut(from);
      this.drop(from, LINK_HELLO, 'Refused', refused);
      return;
    }
    if (!this.deps.verifySignature(cert.publicKey, linkHelloBytes(from, h.kx, h.incarnation), h.signature)) {
      this.drop(from, LINK_HELLO, 'BadHello', 'the hello is not signed by the certificate’s key');
      return;
    }
    const peerKx = Buffer.from(h.kx).toString('hex');
    const current = this.sessions.get(from);
    if (current !== undefined && current.peerKx === peerKx) {
      // The same session (the replay window stays): answer only if our hello did not reach it.
      if (h.knows !== this.kxHex) this.sendHello(from, false);
      return;
    }
    if (current !== undefined && h.incarnation <= current.incarnation) {
      this.drop(from, LINK_HELLO, 'Replayed', `a hello of incarnation ${h.incarnation}, ${current.incarnation} is in force`);
      return;
    }
    const shared = diffieHellman({ privateKey: this.kx.privateKey, publicKey: createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, h.kx]), format: 'der', type: 'spki' }) });
    const [a, b] = this.deps.self < from ? [this.deps.self, from] : [from, this.deps.self];
    const [ka, kb] = this.deps.self < from ? [this.kx.publicKey, h.kx] : [h.kx, this.kx.publicKey];
    const key = Buffer.from(hkdfSync('sha256', shared, lengthPrefixed('grey/link-key/v1', a, b), lengthPrefixed(ka, kb), 32));
    this.sessions.set(from, { key, peerKx, incarnation: h.incarnation, sendSeq: 1, top: 0, seen: 0n });
    this.sendHello(from, true);
    const q = this.queued.get(from);
    this.queued.delete(from);
    for (const m of q ?? []) this.send(from, m.type, m.payload);
  }

  /** Sends this node's hello to `peer`, at most once per 100 ms unless `force`d (the answer to a new session). */
  private sendHello(peer: string, force: boolean): void {
    const now = this.deps.clock.now();
    const last = this.helloSentAt.get(peer);
    if (!force && last !== undefined && now - last < 100) return;
    this.helloSentAt.set(peer, now);
    this.deps.rawSend(peer, LINK_HELLO, { ...this.hello, knows: this.sessions.get(peer)?.peerKx ?? null } satisfies LinkHello);
  }

  private mac(key: Buffer, from: string, to: string, type: string, seq: number, bytes: Uint8Array): Buffer {
    return createHmac('sha256', key).update(lengthPrefixed(from, to, type, seq)).update(bytes).digest().subarray(0, MAC_BYTES);
  }

  /** Whether `seq` is new on this link (and records it): above the highest seen, or inside the window and unseen. */
  private accept(s: Session, seq: number): boolean {
    if (seq > s.top) {
      const shift = seq - s.top;
      s.seen = shift >= REPLAY_WINDOW ? 1n : ((s.seen << BigInt(shift)) | 1n) & ((1n << BigInt(REPLAY_WINDOW)) - 1n);
      s.top = seq;
      return true;
    }
    const back = s.top - seq;
    if (back >= REPLAY_WINDOW) return false;
    const bit = 1n << BigInt(back);
    if (s.seen & bit) return false;
    s.seen |= bit;
    return true;
  }

  private drop(from: string, type: string, reason: LinkDropReason, detail: string): null {
    this.deps.onDrop(from, type, reason, detail);
    return null;
  }
}
