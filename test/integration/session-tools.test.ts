import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseSessionAddress } from '../../src/protocol/address.js';
import { DcClient } from '../../src/protocol/client.js';
import { encodeAddRequest, Operation, Status } from '../../src/protocol/codec.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';

const CLI = ['--import', 'tsx', new URL('../../src/cli/main.ts', import.meta.url).pathname];
const run = promisify(execFile);
const SERVE = 'IP:127.0.32.2:4101';
const UNIX = `UNIX:${path.join(tmpdir(), `distcache-tools-${process.pid}.sock`)}`;
const children = new Set<ChildProcess>();

/** Starts a long-running `distcache` command and resolves once it printed `ready`. */
async function start(
  args: string[],
  ready = /listening on/,
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [...CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready: ${output}`)), 15_000);
    child.stdout!.on('data', () => ready.test(output) && (clearTimeout(timer), resolve()));
    child.on('exit', (code) => (clearTimeout(timer), reject(new Error(`exited ${code}: ${output}`))));
  });
  return { child, output: () => output };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  children.delete(child);
}

/** Runs `distcache test`; resolves its exit code and output. */
async function sessionTest(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, 'test', ...args], { timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

after(async () => {
  for (const child of children) child.kill('SIGKILL');
});

describe('the distcache command', () => {
  it('serve answers `distcache test`, persistent and not, over TCP and a UNIX socket', async () => {
    const serve = await start(['serve', '--listen', SERVE, '--listen', UNIX]);
    try {
      for (const args of [
        ['--connect', SERVE, '--persistent'],
        ['--connect', SERVE],
        ['--connect', UNIX, '--persistent'],
        ['--connect', UNIX],
      ]) {
        const result = await sessionTest([...args, '--ops', '600', '--sessions', '12']);
        assert.equal(result.code, 0, result.output);
        assert.match(result.output, /600 ops in [\d.]+ s: \d+ ops\/s, 0 mismatches/);
      }
    } finally {
      await stop(serve.child);
    }
  });

  it('serve takes its options from a YAML --config file and DISTCACHE_* variables, flags winning', async () => {
    const config = path.join(tmpdir(), `distcache-serve-${process.pid}.yaml`);
    writeFileSync(config, 'sessionCache:\n  listen: ["IP:127.0.32.9:4109"]\n  maxBytes: 1048576\n');
    const serve = await start(['serve', '--config', config], /listening on IP:127\.0\.32\.3:4103/, {
      DISTCACHE_LISTEN: 'IP:127.0.32.3:4103',
    });
    await stop(serve.child);
  });

  it('proxy multiplexes clients to serve, answers DISCONNECTED while it is down, and reconnects', async () => {
    const serve = await start(['serve', '--listen', 'IP:127.0.32.4:4104']);
    const proxy = await start(
      ['proxy', '--listen', 'IP:127.0.32.5:4105', '--server', 'IP:127.0.32.4:4104', '--retry', '200'],
      /listening on/,
    );
    try {
      const results = await Promise.all(
        [1, 2, 3].map(() => sessionTest(['--connect', 'IP:127.0.32.5:4105', '--persistent', '--ops', '300'])),
      );
      for (const result of results) assert.equal(result.code, 0, result.output);

      await stop(serve.child);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const client = new DcClient(parseSessionAddress('IP:127.0.32.5:4105'));
      assert.deepEqual(
        [...(await client.request(Operation.HAVE, Buffer.from('anything'))).data],
        [Status.DISCONNECTED],
      );
      const down = await sessionTest(['--connect', 'IP:127.0.32.5:4105', '--ops', '20']);
      assert.equal(down.code, 1, 'distcache test reports the mismatches');
      assert.match(down.output, /mismatch: op \d+/);

      const again = await start(['serve', '--listen', 'IP:127.0.32.4:4104']);
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.deepEqual([...(await client.request(Operation.HAVE, Buffer.from('anything'))).data], [Status.NOTOK]);
      client.close();
      await stop(again.child);
    } finally {
      await stop(proxy.child);
      await stop(serve.child);
    }
  });

  it('snoop forwards unchanged and prints every frame decoded', async () => {
    const serve = await start(['serve', '--listen', 'IP:127.0.32.6:4106']);
    const snoop = await start(['snoop', '--listen', 'IP:127.0.32.7:4107', '--server', 'IP:127.0.32.6:4106']);
    try {
      const result = await sessionTest(['--connect', 'IP:127.0.32.7:4107', '--persistent', '--ops', '100']);
      assert.equal(result.code, 0, result.output);
      assert.match(snoop.output(), /\[1\] -> request {2}uid=\d+ (ADD|GET|REMOVE|HAVE)/);
      assert.match(snoop.output(), /\[1\] <- response uid=\d+ /);
    } finally {
      await stop(snoop.child);
      await stop(serve.child);
    }
  });

  it('serve nodes find each other through --dns and share sessions', async () => {
    const dns = await startDnsmasq(['127.0.63.2 sessions.test', '127.0.63.3 sessions.test']);
    const nodes = await Promise.all(
      ['127.0.63.2', '127.0.63.3'].map((ip) =>
        start([
          'serve',
          '--listen',
          `IP:${ip}:4110`,
          '--bind-addr',
          ip,
          '--dns',
          'sessions.test',
          '--dns-server',
          dns.server,
        ]),
      ),
    );
    try {
      // Until the two nodes have met, a request routed to a node that is not yet reachable closes the connection: retry on fresh ones.
      const deadline = Date.now() + 15_000;
      for (let attempt = 0; ; attempt++) {
        const first = new DcClient(parseSessionAddress('IP:127.0.63.2:4110'));
        const second = new DcClient(parseSessionAddress('IP:127.0.63.3:4110'));
        const id = Buffer.from(`session-${attempt}`);
        const found = await first
          .request(Operation.ADD, encodeAddRequest(60_000, id, Buffer.from('ticket')))
          .then(() => second.request(Operation.GET, id))
          .then(
            (reply) => Buffer.from(reply.data).toString() === 'ticket',
            () => false,
          );
        first.close();
        second.close();
        if (found) break;
        assert.ok(Date.now() < deadline, "the second node never served the first node's session");
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      await Promise.all(nodes.map((node) => stop(node.child)));
      await dns.close();
    }
  });

  it('explains bad flags and addresses, and has --help for every command', async () => {
    for (const command of ['serve', 'proxy', 'snoop', 'test']) {
      const { stdout } = await run(process.execPath, [...CLI, command, '--help']);
      assert.match(stdout, new RegExp(`usage: distcache ${command}`));
    }
    const badFlag = await run(process.execPath, [...CLI, 'proxy', '--bogus']).catch((error) => error);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /Unknown option '--bogus'/);
    const twoDiscoveries = await run(process.execPath, [
      ...CLI,
      'serve',
      '--listen',
      'IP:127.0.0.1:1',
      '--peers',
      '127.0.0.1:3322',
      '--dns',
      'x.test',
    ]).catch((error) => error);
    assert.equal(twoDiscoveries.code, 2);
    assert.match(twoDiscoveries.stderr, /give one discovery flag, not --peers and --dns/);
    const badAddress = await sessionTest(['--connect', 'TCP:1']);
    assert.equal(badAddress.code, 1);
    assert.match(badAddress.output, /ERR_INVALID_CONFIG: address "TCP:1": unknown scheme/);
  });
});
