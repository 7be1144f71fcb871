import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ErrorCode, isDistCacheError } from '../../src/index.js';
import { parseSessionAddress } from '../../src/protocol/address.js';
import { DcClient } from '../../src/protocol/client.js';
import { Operation, Status } from '../../src/protocol/codec.js';
import { listenOn } from '../../src/protocol/server-socket.js';
import { CliProcess, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'distcache-unix-'));
const running = new Set<CliProcess>();
after(async () => {
  await Promise.all([...running].map((child) => child.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** The three commands that listen on a session address, each listening on `UNIX:<socketPath>`. */
const COMMANDS: Record<string, (socketPath: string) => string[]> = {
  serve: (socketPath) => ['serve', '--listen', `UNIX:${socketPath}`],
  proxy: (socketPath) => ['proxy', '--listen', `UNIX:${socketPath}`, '--server', 'IP:127.0.80.20:4820'],
  snoop: (socketPath) => ['snoop', '--listen', `UNIX:${socketPath}`, '--server', 'IP:127.0.80.20:4820'],
};

async function start(args: string[]): Promise<CliProcess> {
  const child = await CliProcess.start(args);
  running.add(child);
  return child;
}

async function stop(child: CliProcess): Promise<void> {
  assert.equal(await child.stop(), 0);
  running.delete(child);
}

/** A fresh directory for one case. */
function caseDir(name: string): string {
  const caseDirectory = path.join(dir, name);
  mkdirSync(caseDirectory);
  return caseDirectory;
}

/** Whether a distcache server answers on the socket (a HAVE of an unknown id answers NOTOK). */
async function answers(socketPath: string): Promise<boolean> {
  const client = new DcClient(parseSessionAddress(`UNIX:${socketPath}`), { timeoutMs: 2_000 });
  try {
    return (await client.request(Operation.HAVE, Buffer.from('nobody'))).data[0] === Status.NOTOK;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

/** Leaves a stale socket at `socketPath`: its process is killed with SIGKILL, so nobody removes it. */
async function staleSocket(socketPath: string): Promise<void> {
  const holder = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`,
  ]);
  await new Promise((resolve) => holder.stdout.once('data', resolve));
  const exited = new Promise((resolve) => holder.once('exit', resolve));
  holder.kill('SIGKILL');
  await exited;
  assert.ok(lstatSync(socketPath).isSocket());
}

for (const [command, listen] of Object.entries(COMMANDS)) {
  describe(`distcache ${command} --listen UNIX:/path`, () => {
    it('refuses a path that exists and is not a socket, naming it, and leaves the file alone', async () => {
      const precious = path.join(caseDir(`${command}-file`), 'precious.txt');
      writeFileSync(precious, 'keep me');
      const result = await runCli(listen(precious));
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        new RegExp(`^distcache ${command}: ERR_INVALID_CONFIG: .*UNIX:${precious}.*exists and is not a socket.*\\n$`),
      );
      assert.equal(readFileSync(precious, 'utf8'), 'keep me');
    });

    it('refuses a directory', async () => {
      const directory = path.join(caseDir(`${command}-directory`), 'sub');
      mkdirSync(directory);
      const result = await runCli(listen(directory));
      assert.equal(result.code, 1);
      assert.match(result.stderr, /ERR_INVALID_CONFIG: .*exists and is not a socket/);
      assert.ok(lstatSync(directory).isDirectory());
    });

    it("refuses a live server's socket (EADDRINUSE), which keeps serving after the refused process is gone", async () => {
      const socketPath = path.join(caseDir(`${command}-live`), 'live.sock');
      const first = await start(COMMANDS.serve!(socketPath));
      const result = await runCli(listen(socketPath));
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        new RegExp(`^distcache ${command}: ERR_INVALID_CONFIG: .*UNIX:${socketPath}.*EADDRINUSE`),
      );
      assert.ok(await answers(socketPath), 'the first server still answers on its socket');
      await stop(first);
    });

    it('replaces a stale socket, and removes its own socket when it stops', async () => {
      const socketPath = path.join(caseDir(`${command}-stale`), 'stale.sock');
      await staleSocket(socketPath);
      const child = await start(listen(socketPath));
      if (command === 'serve') assert.ok(await answers(socketPath));
      await stop(child);
      assert.ok(!existsSync(socketPath));
    });

    it('leaves the socket of another process that took the path over when it stops', async () => {
      const socketPath = path.join(caseDir(`${command}-takeover`), 'shared.sock');
      const first = await start(listen(socketPath));
      rmSync(socketPath); // an operator removed it; a second server then binds the path
      const second = await start(COMMANDS.serve!(socketPath));
      await stop(first);
      assert.ok(await answers(socketPath), "the second server's socket survived the first one's exit");
      await stop(second);
      assert.ok(!existsSync(socketPath));
    });
  });
}

describe('two listeners racing for one free path', () => {
  it('lets exactly one of them have it; the other is refused with EADDRINUSE', async () => {
    const socketPath = path.join(caseDir('race'), 'race.sock');
    const address = parseSessionAddress(`UNIX:${socketPath}`);
    const attempts = await Promise.allSettled(
      Array.from({ length: 4 }, (_, i) => listenOn(address, (socket) => socket.end(`listener ${i}`))),
    );
    const won = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
    const refused = attempts.flatMap((attempt) => (attempt.status === 'rejected' ? [attempt.reason] : []));
    try {
      assert.equal(won.length, 1);
      for (const error of refused) {
        assert.ok(isDistCacheError(error, ErrorCode.INVALID_CONFIG), String(error));
        assert.match(error.message, /EADDRINUSE/);
      }
      assert.ok(lstatSync(socketPath).isSocket());
      assert.deepEqual(readdirSync(path.dirname(socketPath)), ['race.sock'], 'no temporary socket is left behind');
    } finally {
      await Promise.all(won.map((listening) => listening.close()));
    }
    assert.ok(!existsSync(socketPath));
  });
});
