import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';

const HOST = '127.0.80.40';

/** Asserts that a command failed with `exitCode` and said why on stderr in exactly one line with an ERR_ code. */
function assertOneLine(result: { code: number; stdout: string; stderr: string }, exitCode: number, pattern: RegExp) {
  assert.equal(result.code, exitCode, result.stderr);
  assert.match(
    result.stderr,
    /^distcache( \w+)?: ERR_[A-Z_]+: [^\n]+\n$/,
    `not one line with a code:\n${result.stderr}`,
  );
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stdout + result.stderr, /^\s+at /m, 'no stack trace');
}

describe('every distcache failure is one line with an error code', () => {
  const held: net.Server[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'distcache-cli-'));
  /** Takes `port` on HOST, as another program would. */
  const hold = (port: number) =>
    new Promise<void>((resolve) => {
      const server = net.createServer();
      held.push(server);
      server.listen(port, HOST, resolve);
    });
  before(async () => {
    for (const port of [4841, 4842, 4843]) await hold(port);
  });
  after(async () => {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
    rmSync(dir, { recursive: true, force: true });
  });
  const cluster = (discoveryPort: number, bindPort: number) => [
    '--bind-addr',
    HOST,
    '--bind-port',
    String(bindPort),
    '--discovery-port',
    String(discoveryPort),
    '--peers',
    `${HOST}:${discoveryPort}`,
  ];

  it('the discovery port in use', async () => {
    const result = await runCli(['serve', '--listen', `IP:${HOST}:4844`, ...cluster(4841, 4845)]);
    assertOneLine(result, 1, /ERR_INVALID_CONFIG: discovery port: cannot listen on 127\.0\.80\.40:4841 \(EADDRINUSE\)/);
  });

  it('the peer port in use', async () => {
    const result = await runCli(['serve', '--listen', `IP:${HOST}:4844`, ...cluster(4846, 4842)]);
    assertOneLine(result, 1, /ERR_INVALID_CONFIG: peer port: cannot listen on 127\.0\.80\.40:4842 \(EADDRINUSE\)/);
  });

  it('the session listen port in use', async () => {
    const result = await runCli(['serve', '--listen', `IP:${HOST}:4843`]);
    assertOneLine(result, 1, /ERR_INVALID_CONFIG: distcache protocol: cannot listen on IP:127\.0\.80\.40:4843/);
  });

  it('the admin port in use', async () => {
    const result = await runCli(['serve', '--listen', `IP:${HOST}:4844`, '--admin', `${HOST}:4843`]);
    assertOneLine(result, 1, /ERR_INVALID_CONFIG: admin: cannot listen on 127\.0\.80\.40:4843 \(EADDRINUSE\)/);
  });

  it('a bad flag, a missing flag and an unknown command (exit code 2)', async () => {
    assertOneLine(await runCli(['proxy', '--bogus']), 2, /ERR_INVALID_ARGUMENT: .*--bogus.*--help/);
    assertOneLine(await runCli(['snoop', '--listen', 'IP:1']), 2, /ERR_INVALID_ARGUMENT: --listen and --server/);
    assertOneLine(await runCli(['nonsense']), 2, /^distcache: ERR_INVALID_ARGUMENT: unknown command "nonsense"/);
  });

  it('a --config file that is not YAML, and an option it names wrongly', async () => {
    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, 'sessionCache: [\n  unclosed\n');
    assertOneLine(await runCli(['serve', '--config', broken]), 1, /ERR_INVALID_CONFIG: --config .* is not valid YAML/);
    const typo = path.join(dir, 'typo.json');
    writeFileSync(typo, JSON.stringify({ sessionCache: { listen: [`IP:${HOST}:4844`], idelTimeout: 5 } }));
    assertOneLine(await runCli(['serve', '--config', typo]), 1, /ERR_INVALID_CONFIG: .*idelTimeout/);
  });
});
