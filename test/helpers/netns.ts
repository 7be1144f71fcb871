import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs `ip` with arguments; rejects with its stderr. */
async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${stderr?.trim() || message}`, { cause: error });
  }
}

/**
 * A network of real Linux network namespaces for partition tests: one
 * namespace per node (`<prefix>-n<i>`, address `<subnet>.<i + 2>/24` on its
 * `eth0`), each node's veth plugged into one of two bridges in a switch
 * namespace of its own (`<prefix>-sw`), the bridges joined by a veth pair
 * (the trunk). Nothing is added to the root namespace: nodes talk only to
 * namespace addresses.
 *
 * - {@link isolate}`(i)` takes node i's switch port down: it is cut off from everyone;
 * - {@link split} takes the trunk down: the two groups are cut off from each other;
 * - {@link heal} brings every port and the trunk up again.
 *
 * Needs root (CAP_NET_ADMIN) and iproute2; {@link NetnsLab.create} rejects without them.
 */
export class NetnsLab {
  private constructor(
    readonly prefix: string,
    readonly subnet: string,
    /** Per node, the bridge it is on: 0 (group A) or 1 (group B). */
    readonly groups: readonly (0 | 1)[],
  ) {}

  /**
   * Creates the network: node i is on group A when `groups[i]` is 0, group B
   * when 1. Removes what a crashed earlier run with the same prefix left first.
   */
  static async create(prefix: string, subnet: string, groups: readonly (0 | 1)[]): Promise<NetnsLab> {
    await NetnsLab.removeLeftovers(prefix);
    const lab = new NetnsLab(prefix, subnet, groups);
    try {
      await lab.#build();
    } catch (error) {
      await lab.remove();
      throw error;
    }
    return lab;
  }

  /** Deletes every namespace whose name starts with `<prefix>-` (their links and bridges go with them). */
  static async removeLeftovers(prefix: string): Promise<void> {
    const listed = await ip('netns', 'list');
    const names = listed
      .split('\n')
      .map((line) => line.split(' ')[0]!)
      .filter((name) => name.startsWith(`${prefix}-`));
    for (const name of names) await ip('netns', 'delete', name);
  }

  /** The namespace node `index` runs in. */
  namespace(index: number): string {
    return `${this.prefix}-n${index}`;
  }

  /** Node `index`'s address. */
  address(index: number): string {
    return `${this.subnet}.${index + 2}`;
  }

  /** Cuts node `index` off from every other node. */
  async isolate(index: number): Promise<void> {
    await ip('-n', this.#switch, 'link', 'set', `port${index}`, 'down');
  }

  /** Cuts group A off from group B. */
  async split(): Promise<void> {
    await ip('-n', this.#switch, 'link', 'set', 'trunk-a', 'down');
  }

  /** Reconnects every node and both groups. */
  async heal(): Promise<void> {
    for (let index = 0; index < this.groups.length; index++)
      await ip('-n', this.#switch, 'link', 'set', `port${index}`, 'up');
    await ip('-n', this.#switch, 'link', 'set', 'trunk-a', 'up');
  }

  /** Deletes every namespace of the lab; safe to call twice. */
  async remove(): Promise<void> {
    await NetnsLab.removeLeftovers(this.prefix);
  }

  get #switch(): string {
    return `${this.prefix}-sw`;
  }

  async #build(): Promise<void> {
    const sw = this.#switch;
    await ip('netns', 'add', sw);
    await ip('-n', sw, 'link', 'set', 'lo', 'up');
    for (const bridge of ['bridge-a', 'bridge-b']) {
      await ip('-n', sw, 'link', 'add', bridge, 'type', 'bridge');
      await ip('-n', sw, 'link', 'set', bridge, 'up');
    }
    await ip('-n', sw, 'link', 'add', 'trunk-a', 'type', 'veth', 'peer', 'name', 'trunk-b');
    await ip('-n', sw, 'link', 'set', 'trunk-a', 'master', 'bridge-a', 'up');
    await ip('-n', sw, 'link', 'set', 'trunk-b', 'master', 'bridge-b', 'up');
    for (const [index, group] of this.groups.entries()) {
      const ns = this.namespace(index);
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', sw, 'link', 'add', `port${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('-n', sw, 'link', 'set', `port${index}`, 'master', group === 0 ? 'bridge-a' : 'bridge-b', 'up');
      await ip('-n', ns, 'addr', 'add', `${this.address(index)}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    }
  }
}
