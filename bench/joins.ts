/**
 * Join handshakes verified per wall second (issue 14 §9), member side only,
 * one thread, and Ed25519 verifications per second.
 *
 * A {@link JoinAuthenticator} wired with the simulated cluster's checks
 * (`SimulatedSecurity.nodeSecurity`: certificate validation against the
 * cluster CA, DCAP-style attestation verification, Ed25519 proof check), a
 * fake membership view (three active members; nobody blocked, no name
 * taken; policy minimum `hardware`), a seeded RandomSource and a clock
 * that moves 1 ms a batch. `joiners` distinct joining nodes: distinct names, keys and
 * certificates, all from the CA, all with hardware evidence.
 *
 * Timed (and only this): the member's two calls per handshake —
 *   `hello`: parse the presented certificate DER and validate it (times,
 *   CA signature, trusted issuer), role, name, block and collision checks,
 *   a fresh nonce;
 *   `evidence`: the challenge lookup and single use, the node's Ed25519
 *   signature over the nonce (its key taken from the certificate and new
 *   to this process), the hardware attestation (three signatures: the
 *   attestation key's certificate, the quote, the TCB info; report data;
 *   TCB status; measurement), trust policy, block and collision checks
 *   again, admission.
 * That is 5 Ed25519 verifications per handshake.
 *
 * Not timed: issuing the certificates, the TEE's quotes and the joiners'
 * signatures over the nonces (the joiner's side). Handshakes run in
 * batches of `batch`: every hello of a batch (timed), then the joiners
 * answer (not timed), then every evidence (timed). The figure is
 * handshakes per wall second of those timed spans; the process's CPU time
 * over the same spans is reported beside it (`handshakesPerCpuSecond`),
 * since on a shared machine wall time also counts waiting for a core.
 *
 * Honesty: every handshake presents a certificate never seen before, and
 * node:crypto's key-import memo (actors/nodeIdentity.ts, the last 1,024
 * keys) is flushed before each run, since issuing a certificate imports
 * the holder's key and would otherwise have warmed it. The CA's and the
 * TEE vendor's keys are imported once and reused, as on a running member.
 * Three runs:
 *   - the headline: all joiners attest on the cluster's one simulated TEE
 *     platform, as in a simulated cluster (its attestation key is reused);
 *   - each joiner on a TEE platform of its own (a machine each: its own
 *     attestation key, new to the member, one more key import);
 *   - ONE certificate presented again and again (the same node rejoining),
 *     reported separately and never as the headline: its key stays
 *     imported.
 *
 * Run: `npx tsx bench/joins.ts` (or compiled, through `npm run bench`).
 */
import { randomBytes } from 'node:crypto';
import { JoinAuthenticator, joinProofBytes, type JoinChallenge, type JoinMembershipView, type JoinResult } from '../actors/joinAuthenticator.js';
import type { JoinCredentials } from '../actors/joinRequester.js';
import { deriveIdentity, publicKeyObject, signBytes, verifySignature } from '../actors/nodeIdentity.js';
import { Random } from '../system/random.js';
import { SimulatedSecurity } from '../system/simulatedSecurity.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

/** Size of node:crypto's key-import memo in actors/nodeIdentity.ts: this many fresh keys evict everything in it. */
const KEY_MEMO_SIZE = 1_024;
/** Ed25519 verifications in one accepted handshake: the certificate, the proof over the nonce, and three in hardware evidence. */
const VERIFICATIONS_PER_HANDSHAKE = 5;

/** A joining node: its name and what it presents (certificate, signer, evidence). */
interface Joiner {
  name: string;
  creds: JoinCredentials;
}

/** A member under test: its authenticator, its clock, and what it admitted and refused. */
interface Member {
  auth: JoinAuthenticator;
  clock: { t: number };
  admitted: () => number;
  refused: () => string[];
}

/** A member's authenticator with the simulated cluster's checks and a membership where nothing is taken or blocked. */
function member(security: SimulatedSecurity, seed: number): Member {
  const checks = security.nodeSecurity('n1', undefined, ['n1', 'n2', 'n3']);
  const clock = { t: 1_000 };
  const members = new Map<string, { status: string }>([['n1', { status: 'active' }], ['n2', { status: 'active' }], ['n3', { status: 'active' }]]);
  const membership: JoinMembershipView = { member: (name) => members.get(name), blocked: () => null, minTrust: () => 'hardware' };
  let admitted = 0;
  const refused: string[] = [];
  const auth = new JoinAuthenticator(
    {
      clock: { now: () => clock.t },
      random: new Random(seed).derive('join-bench'),
      checkCertificate: checks.checkCertificate,
      verifyEvidence: checks.verifyEvidence,
      verifySignature: checks.verifySignature,
      membership,
      admit: () => void admitted++,
      onVerdict: (v) => {
        if (v.outcome === 'rejected') refused.push(`${v.name ?? v.from}: ${v.code} ${v.reason}`);
      },
    },
    // A batch of challenges outstanding at once; the clock moves 1 ms a batch, far inside the challenge TTL, so none lapses.
    { maxPending: 4_096 },
  );
  return { auth, clock, admitted: () => admitted, refused: () => refused };
}

/** Fills node:crypto's key-import memo with throwaway keys, so no key imported while preparing is still in it. */
function flushKeyMemo(): void {
  for (let i = 0; i < KEY_MEMO_SIZE; i++) publicKeyObject(randomBytes(32));
}

/**
 * Runs `joiners` handshakes, each of its own certificate (or all of `joiners[0]`'s when `sameCertificate`),
 * and returns the wall time of the member's calls only.
 */
function handshakes(m: Member, joiners: readonly Joiner[], rounds: number, batch: number, sameCertificate: boolean): Timed {
  let helloMs = 0;
  let evidenceMs = 0;
  let cpuUs = 0;
  let done = 0;
  for (let start = 0; done < rounds; start = (start + batch) % joiners.length) {
    const group = Array.from({ length: Math.min(batch, rounds - done) }, (_, k) => joiners[sameCertificate ? 0 : (start + k) % joiners.length]);
    // A joiner may rejoin in a later round: time moves on so its challenge is a new one.
    m.clock.t += 1;
    const hellos = new Array<JoinChallenge | JoinResult>(group.length);
    let cpu0 = process.cpuUsage();
    let t0 = performance.now();
    for (let k = 0; k < group.length; k++) hellos[k] = m.auth.hello(group[k].name, { certificate: group[k].creds.certificate });
    helloMs += performance.now() - t0;
    cpuUs += cpuSince(cpu0);
    // The joiners answer (not timed): evidence bound to the nonce, and the signature over it.
    const answers = group.map((j, k) => {
      const c = hellos[k] as JoinChallenge;
      if (!(c.nonce instanceof Uint8Array)) throw new Error(`bench: hello of ${j.name} refused: ${JSON.stringify(hellos[k])}`);
      return { nonce: c.nonce, evidence: j.creds.evidence(c.nonce, m.clock.t), signature: j.creds.sign(joinProofBytes(j.name, c.nonce)) };
    });
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    for (let k = 0; k < group.length; k++) m.auth.evidence(group[k].name, answers[k]);
    evidenceMs += performance.now() - t0;
    cpuUs += cpuSince(cpu0);
    done += group.length;
  }
  return { ms: helloMs + evidenceMs, helloMs, evidenceMs, cpuMs: cpuUs / 1000, done };
}

/** CPU time (user and system, µs) this process spent since `start`. */
function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

/** Wall time of the member's calls over `done` handshakes. */
interface Timed {
  ms: number;
  /** CPU time of the whole process (GC threads included) over the same spans: on a shared machine, the member's cost without the waits for a core. */
  cpuMs: number;
  helloMs: number;
  evidenceMs: number;
  done: number;
}

/** Ed25519 verifications per second of one 96-byte message (about a proof over a nonce), with `keys` distinct keys in turn. */
function verifications(keys: number, measureMs: number, seed: number): { perSecond: number; calls: number } {
  const data = new Uint8Array(96).map((_, i) => i);
  const signers = Array.from({ length: keys }, (_, i) => deriveIdentity(seed, `verify-${i}`));
  const sigs = signers.map((s) => signBytes(s, data));
  const raw = signers.map((s) => Uint8Array.from(s.publicKey)); // copies: nothing shared with the signer objects
  if (keys > 1) flushKeyMemo();
  let calls = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < measureMs) {
    for (let k = 0; k < 64; k++, calls++) {
      const i = calls % keys;
      if (!verifySignature(raw[i], data, sigs[i])) throw new Error('bench: a valid signature did not verify');
    }
    t = performance.now();
  }
  return { perSecond: Math.round(calls / ((t - t0) / 1000)), calls };
}

/**
 * Runs the join benchmark: handshakes with distinct certificates (the
 * headline, target 2,000/s), the same with each joiner on a TEE platform
 * of its own, handshakes repeating one certificate, and Ed25519
 * verifications with a cached key and with a new key each time.
 *
 * @param joiners distinct joining nodes per run (more than the key memo's 1,024)
 * @param batch handshakes whose hellos are timed back to back, then their evidence
 */
export function benchJoins(joiners = 2_048, batch = 256, seed = 1): BenchResult[] {
  if (joiners <= KEY_MEMO_SIZE) throw new RangeError(`joiners must exceed ${KEY_MEMO_SIZE} (the key memo), so that no joiner's key is still imported when its turn comes`);
  const security = new SimulatedSecurity(seed, { attestation: 'hardware', minTrust: 'hardware' });
  // Preparation, not timed: a name, key and CA certificate per joiner; all attest on the cluster's one simulated TEE, as in a simulated cluster.
  const all: Joiner[] = Array.from({ length: joiners }, (_, i) => ({ name: `j${i}`, creds: security.credentials(`j${i}`) }));

  // Warm-up on joiners of their own (JIT, the CA's and TEE's keys), then the memo flushed of the measured joiners' keys.
  const warm = member(security, seed + 1);
  handshakes(
    warm,
    Array.from({ length: batch }, (_, i) => ({ name: `w${i}`, creds: security.credentials(`w${i}`) })),
    batch * 4,
    batch,
    false,
  );
  flushKeyMemo();
  const distinct = measured(member(security, seed), all, joiners, batch, false);

  // Each joiner on a machine of its own: its own attestation key, certified by the vendor, imported by the member as new.
  const onOwnPlatforms: Joiner[] = Array.from({ length: joiners }, (_, i) => ({ name: `p${i}`, creds: security.credentials(`p${i}`, { attestation: security.platform(`platform-p${i}`) }) }));
  flushKeyMemo();
  const platforms = measured(member(security, seed + 3), onOwnPlatforms, joiners, batch, false);

  const same = measured(member(security, seed + 2), all, joiners, batch, true);

  const cached = verifications(1, 1_000, seed);
  const fresh = verifications(2 * KEY_MEMO_SIZE, 1_000, seed);

  const common = { node: process.version, seed, thread: 'one, synchronous' };
  const timed = 'the member only: hello (certificate DER parsed and validated: times, CA signature, trusted issuer; role, name, block, collision; nonce) + evidence (challenge single use, Ed25519 proof over the nonce, hardware attestation: 3 signatures, report data, TCB, measurement; trust policy; admission)';
  const notTimed = 'issuing certificates, TEE quotes, joiners signing the nonce';
  const rate = (r: Timed) => Math.round(r.done / (r.ms / 1000));
  const perHandshake = (r: Timed) => ({ helloWall: Math.round((1000 * r.helloMs) / r.done), evidenceWall: Math.round((1000 * r.evidenceMs) / r.done), cpu: Math.round((1000 * r.cpuMs) / r.done) });
  const perCpuSecond = (r: Timed) => Math.round(r.done / (r.cpuMs / 1000));
  return [
    {
      name: 'Join handshakes verified, member side, each a distinct certificate and key',
      value: rate(distinct),
      unit: 'handshakes/s',
      target: 2_000,
      config: {
        ...common,
        timed,
        notTimed,
        handshakes: distinct.done,
        distinctCertificates: joiners,
        teePlatforms: 1,
        ed25519VerificationsPerHandshake: VERIFICATIONS_PER_HANDSHAKE,
        newKeysImportedPerHandshake: 1,
        usPerHandshake: perHandshake(distinct),
        handshakesPerCpuSecond: perCpuSecond(distinct),
        batch,
      },
    },
    {
      name: 'Join handshakes verified, member side, each a distinct certificate, key and TEE platform',
      value: rate(platforms),
      unit: 'handshakes/s',
      config: {
        ...common,
        timed,
        notTimed,
        handshakes: platforms.done,
        distinctCertificates: joiners,
        teePlatforms: joiners,
        ed25519VerificationsPerHandshake: VERIFICATIONS_PER_HANDSHAKE,
        newKeysImportedPerHandshake: 2,
        usPerHandshake: perHandshake(platforms),
        handshakesPerCpuSecond: perCpuSecond(platforms),
        batch,
      },
    },
    {
      name: 'Join handshakes verified, member side, ONE certificate presented again and again (not the headline)',
      value: rate(same),
      unit: 'handshakes/s',
      config: { ...common, timed, handshakes: same.done, distinctCertificates: 1, newKeysImportedPerHandshake: 0, usPerHandshake: perHandshake(same), handshakesPerCpuSecond: perCpuSecond(same), batch },
    },
    {
      name: 'Ed25519 verifications (96-byte message, one key: import cached)',
      value: cached.perSecond,
      unit: 'verifications/s',
      config: { ...common, calls: cached.calls, measuredMs: 1_000 },
    },
    {
      name: `Ed25519 verifications (96-byte message, ${2 * KEY_MEMO_SIZE} keys in turn: each imported, then verified)`,
      value: fresh.perSecond,
      unit: 'verifications/s',
      config: { ...common, calls: fresh.calls, measuredMs: 1_000 },
    },
  ];
}

/** One measured run on a fresh member, checking that every handshake was admitted. */
function measured(m: Member, joiners: readonly Joiner[], rounds: number, batch: number, sameCertificate: boolean): Timed {
  const r = handshakes(m, joiners, rounds, batch, sameCertificate);
  if (m.admitted() !== rounds || m.refused().length > 0) throw new Error(`bench: ${m.admitted()} of ${rounds} admitted; refused: ${m.refused().slice(0, 3).join('; ')}`);
  return r;
}

if (isMainModule(import.meta.url)) for (const r of benchJoins()) printResult(r);
