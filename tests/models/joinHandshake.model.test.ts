import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { joinHandshake } from '../../machines/joinHandshake.js';
import { checkModel } from '../../system/modelPaths.js';
import { Kernel } from '../../system/kernel.js';
import { joinHandshakePlan as plan, joinHandshakeInvariant, SMALL } from '../../system/modelPlans/joinHandshake.plan.js';

function start() {
  const kernel = new Kernel();
  const sent: string[] = [];
  const machine = joinHandshake.provide({ actions: { sendHello: () => void sent.push('hello'), sendEvidence: () => void sent.push('evidence') } });
  const actor = createActor(machine, { clock: kernel, input: SMALL }).start();
  return { kernel, actor, sent, snap: () => actor.getSnapshot() };
}

describe('joinHandshake model', () => {
  it('covers every state and transition on generated paths, actor agreeing with the model', () => {
    const report = checkModel(plan);
    expect(report.machine).toBe('joinHandshake');
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
    expect(report.transitions.covered).toBe(report.transitions.total);
  });

  it('the invariant catches attesting without a challenge', () => {
    const j = start();
    j.actor.send({ type: 'START' });
    j.actor.send({ type: 'CHALLENGE', nonce: 'ab' });
    expect(() => joinHandshakeInvariant(j.snap())).not.toThrow();
    expect(() => joinHandshakeInvariant({ ...j.snap(), context: { ...j.snap().context, nonce: null } } as never)).toThrow(/without a challenge/);
  });
});

describe('joinHandshake behaviour', () => {
  it('hello, challenge, evidence, accepted: admitted, one hello and one evidence sent', () => {
    const j = start();
    j.actor.send({ type: 'START' });
    j.actor.send({ type: 'CHALLENGE', nonce: 'ab' });
    j.actor.send({ type: 'ACCEPTED' });
    expect(j.snap().value).toBe('admitted');
    expect(j.snap().status).toBe('done');
    expect(j.sent).toEqual(['hello', 'evidence']);
  });

  it('a member that does not answer is asked again after the timeout and the retry delay, up to maxAttempts, then the join fails', () => {
    const j = start();
    j.actor.send({ type: 'START' });
    j.kernel.advance(50); // response timeout
    expect(j.snap().value).toBe('retrying');
    j.kernel.advance(10); // retry delay
    expect(j.snap().value).toBe('presenting');
    j.kernel.advance(60);
    expect(j.snap().value).toBe('failed');
    expect(j.snap().context.reason).toMatch(/gave up after 2 attempts/);
    expect(j.sent).toEqual(['hello', 'hello']);
  });

  it('an expired challenge is retried with a fresh hello; a refused certificate is final', () => {
    const j = start();
    j.actor.send({ type: 'START' });
    j.actor.send({ type: 'CHALLENGE', nonce: 'ab' });
    j.actor.send({ type: 'REJECTED', code: 'ChallengeExpired', reason: 'late' });
    expect(j.snap().value).toBe('retrying');
    j.kernel.advance(10);
    expect(j.snap().value).toBe('presenting');
    j.actor.send({ type: 'REJECTED', code: 'UntrustedIssuer', reason: 'wrong CA' });
    expect(j.snap().value).toBe('rejected');
    expect(j.snap().context).toMatchObject({ code: 'UntrustedIssuer', reason: 'wrong CA' });
  });
});
