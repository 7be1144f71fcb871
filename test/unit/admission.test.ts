import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admission } from '../../src/cluster/admission.js';
import type { Logger } from '../../src/logger.js';

/** A logger that records the level of each line. */
function recordingLogger(): Logger & { levels: string[] } {
  const levels: string[] = [];
  const at = (level: string) => () => void levels.push(level);
  return { levels, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('Admission', () => {
  it('admits a present member once its handshake succeeds, and forgets it when it is gone', async () => {
    const admitted: string[] = [];
    const admission = new Admission({
      handshake: async () => undefined,
      isPresent: () => true,
      onAdmitted: (id) => void admitted.push(id),
      retryInterval: 1,
      logger: recordingLogger(),
    });
    admission.consider('b');
    await settle();
    assert.ok(admission.has('b'));
    assert.deepEqual(admitted, ['b']);
    admission.forget('b');
    assert.equal(admission.has('b'), false);
    admission.stop();
  });

  it('retries a refused handshake while the member is present, warning once', async () => {
    let attempts = 0;
    const logger = recordingLogger();
    const admission = new Admission({
      handshake: async () => {
        if (++attempts < 3) throw new Error('refused');
      },
      isPresent: () => true,
      onAdmitted: () => undefined,
      retryInterval: 1,
      logger,
    });
    admission.consider('b');
    for (let i = 0; i < 100 && !admission.has('b'); i++) await settle();
    assert.ok(admission.has('b'));
    assert.equal(attempts, 3);
    assert.deepEqual(logger.levels, ['warn', 'debug']);
    admission.stop();
  });

  it('neither admits nor retries after stop', async () => {
    let attempts = 0;
    const admission = new Admission({
      handshake: async () => {
        attempts++;
        throw new Error('refused');
      },
      isPresent: () => true,
      onAdmitted: () => undefined,
      retryInterval: 1,
      logger: recordingLogger(),
    });
    admission.consider('b');
    admission.stop();
    await settle();
    await settle();
    assert.equal(attempts, 1);
    assert.equal(admission.has('b'), false);
  });

  it('does not admit a member that left while its handshake ran', async () => {
    let present = true;
    const admission = new Admission({
      handshake: async () => {
        present = false;
      },
      isPresent: () => present,
      onAdmitted: () => assert.fail('admitted a member that is gone'),
      retryInterval: 1,
      logger: recordingLogger(),
    });
    admission.consider('b');
    await settle();
    assert.equal(admission.has('b'), false);
    admission.stop();
  });
});
