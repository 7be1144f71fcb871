import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const TSX = ['--import', 'tsx'];
const ENGINE = new URL('../../src/index.ts', import.meta.url).pathname;
const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/** pino's JSON lines in `stdout`. */
function logLines(stdout: string): { level: number; msg: string }[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string });
}

describe('the default logger', () => {
  it('of an engine embedded in an application writes warnings to its stdout, not its lifecycle', async () => {
    // Starts, serves, opens a circuit breaker (a warning) and stops, with the default logger.
    const application = `
      import { Engine } from ${JSON.stringify(ENGINE)};
      const engine = new Engine({ keyspaces: [{
        name: 'users', maxBytes: 1 << 20,
        circuitBreaker: { failureThreshold: 1, resetTimeout: 60_000 },
        dataSource: { fetch: async () => { throw new Error('database down'); } },
      }] });
      await engine.start();
      await engine.get('users', '1').catch(() => undefined);
      await engine.stop();
      console.log('done');
    `;
    const { stdout } = await run(process.execPath, [...TSX, '--input-type=module', '-e', application], {
      timeout: 30_000,
    });
    assert.match(stdout, /^done$/m);
    assert.deepEqual(
      logLines(stdout).map(({ level, msg }) => `${level} ${msg}`),
      ['40 data source circuit breaker open'],
    );
  });

  it('of distcache serve writes its lifecycle at info', async () => {
    const serve = spawn(process.execPath, [...TSX, CLI, 'serve', '--listen', 'IP:127.0.150.2:7002'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    serve.stdout.on('data', (chunk) => (stdout += chunk));
    const exited = once(serve, 'exit');
    try {
      await new Promise<void>((resolve, reject) => {
        // pino writes asynchronously: its line may follow the command's own "listening on".
        const timer = setTimeout(() => reject(new Error(`serve logged no start: ${stdout}`)), 20_000);
        serve.stdout.on('data', () => stdout.includes('engine started') && (clearTimeout(timer), resolve()));
      });
    } finally {
      serve.kill('SIGTERM');
      await exited;
    }
    const messages = logLines(stdout).map(({ level, msg }) => `${level} ${msg}`);
    assert.ok(messages.includes('30 distcache engine started'), stdout);
  });
});
