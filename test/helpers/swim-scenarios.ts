/**
 * Scenarios on the SWIM simulator, measured in virtual time: the simulation
 * test asserts bounds on them and bench/membership-sim.ts publishes them.
 */
import { seededRandom } from './random.js';
import { nodeId, SwimSimulation, type NetworkModel } from './swim-simulator.js';

/** A LAN: 0.5-5 ms one way, with `loss` of the messages lost. */
export function lan(loss: number): NetworkModel {
  return { minDelay: 0.5, maxDelay: 5, loss };
}

/** Time given to a formed cluster before measuring, so no start-up phase is counted. */
const SETTLE_MS = 5_000;
/** How often the scenarios look at the nodes' views. */
const STEP_MS = 50;

export interface SteadyReport {
  readonly nodes: number;
  readonly seconds: number;
  readonly loss: number;
  /** Messages each node sent per second, on average. */
  readonly messagesPerNodePerSecond: number;
  /** Messages sent, by type, all nodes. */
  readonly byType: Record<string, number>;
  /** Direct probes made (pings sent on a node's own account, relays excluded). */
  readonly probes: number;
  /** Distinct suspicions of live members (member and incarnation). */
  readonly falseSuspicions: number;
  /** Times a node saw a live member as dead. */
  readonly falseDeaths: number;
}

/** `nodes` healthy nodes for `seconds` on a network that loses `loss` of the messages: nothing should die. */
export function steadyState(nodes: number, seed: number, loss: number, seconds: number): SteadyReport {
  const sim = new SwimSimulation({ nodes, seed, network: lan(loss), start: 'formed' });
  sim.runUntil(SETTLE_MS);
  const sentBefore = sim.totalSent();
  const byTypeBefore = new Map(sim.sentByType);
  sim.changes.length = 0;
  sim.runFor(seconds * 1_000);
  const byType: Record<string, number> = {};
  for (const [type, count] of sim.sentByType) byType[type] = count - (byTypeBefore.get(type) ?? 0);
  const suspicions = new Set(
    sim.changes.filter((c) => c.state === 'suspect').map((c) => `${c.member}@${c.incarnation}`),
  );
  return {
    nodes,
    seconds,
    loss,
    messagesPerNodePerSecond: (sim.totalSent() - sentBefore) / nodes / seconds,
    byType,
    probes: (byType.ping ?? 0) - (byType['ping-req'] ?? 0),
    falseSuspicions: suspicions.size,
    falseDeaths: sim.changes.filter((c) => c.type === 'left').length,
  };
}

export interface DetectionReport {
  /** From the crash to the first node suspecting the crashed one, ms. */
  readonly firstSuspicionMs: number;
  /** From the crash until every other node has it dead, ms. */
  readonly deadEverywhereMs: number;
}

/**
 * Crashes `crashes` random nodes one after the other (each found dead
 * everywhere before the next), silently or, with `refuses`, with connections
 * refused as after a kill -9.
 */
export function crashDetection(
  nodes: number,
  seed: number,
  loss: number,
  crashes: number,
  refuses = false,
): DetectionReport[] {
  const sim = new SwimSimulation({ nodes, seed, network: lan(loss), start: 'formed' });
  const pick = seededRandom(seed + 1);
  sim.runUntil(SETTLE_MS);
  const reports: DetectionReport[] = [];
  const crashed = new Set<string>();
  for (let i = 0; i < crashes; i++) {
    let victim: string;
    do victim = nodeId(Math.floor(pick() * nodes));
    while (crashed.has(victim));
    crashed.add(victim);
    const at = sim.now;
    sim.changes.length = 0;
    sim.crash(victim, refuses);
    const deadAfter = runUntilAll(sim, (observer) => stateIs(sim, observer, victim, 'dead'), 120_000);
    const first = sim.changes.find((c) => c.member === victim && c.state === 'suspect');
    reports.push({ firstSuspicionMs: (first?.at ?? Infinity) - at, deadEverywhereMs: deadAfter });
    sim.runFor(SETTLE_MS);
  }
  return reports;
}

export interface PauseReport {
  /** From the pause until every other node has the paused one dead, ms. */
  readonly deadEverywhereMs: number;
  /** From the resume until every other node has it alive again, ms. */
  readonly aliveEverywhereMs: number;
  /** Whether the paused node learned it had been declared dead. */
  readonly toldDeclaredDead: boolean;
}

/** Freezes one node for `pauseMs` (SIGSTOP), then thaws it (SIGCONT). */
export function pauseAndResume(nodes: number, seed: number, loss: number, pauseMs: number): PauseReport {
  const sim = new SwimSimulation({ nodes, seed, network: lan(loss), start: 'formed' });
  sim.runUntil(SETTLE_MS);
  const victim = nodeId(nodes - 1);
  const pausedAt = sim.now;
  sim.pause(victim);
  const deadEverywhereMs = runUntilAll(sim, (observer) => stateIs(sim, observer, victim, 'dead'), pauseMs);
  sim.runUntil(pausedAt + pauseMs);
  sim.changes.length = 0;
  sim.resume(victim);
  const aliveEverywhereMs = runUntilAll(sim, (observer) => stateIs(sim, observer, victim, 'alive'), 60_000);
  return {
    deadEverywhereMs,
    aliveEverywhereMs,
    toldDeclaredDead: sim.changes.some((c) => c.type === 'declared-dead' && c.observer === victim),
  };
}

export interface PartitionReport {
  /** From the split until each side has the other side dead, ms. */
  readonly splitSeenMs: number;
  /** From the heal until every node has every other alive again, ms. */
  readonly healedMs: number;
}

/** Splits the cluster in two halves for `splitMs`, then heals the network. */
export function partitionAndHeal(nodes: number, seed: number, loss: number, splitMs: number): PartitionReport {
  const sim = new SwimSimulation({ nodes, seed, network: lan(loss), start: 'formed' });
  sim.runUntil(SETTLE_MS);
  const all = sim.upIds();
  const half = all.slice(0, nodes / 2);
  const sideOf = new Set(half);
  const splitAt = sim.now;
  sim.partition([half]);
  const splitSeenMs = runUntilAll(
    sim,
    (observer) =>
      all.every(
        (other) => other === observer || sideOf.has(other) === sideOf.has(observer) || !isAlive(sim, observer, other),
      ),
    splitMs,
  );
  sim.runUntil(splitAt + splitMs);
  sim.heal();
  const healedMs = runUntilAll(
    sim,
    (observer) => all.every((o) => o === observer || isAlive(sim, observer, o)),
    120_000,
  );
  return { splitSeenMs, healedMs };
}

/** One node leaves gracefully: ms until every other node has it as left. */
export function gracefulLeave(nodes: number, seed: number, loss: number): number {
  const sim = new SwimSimulation({ nodes, seed, network: lan(loss), start: 'formed' });
  sim.runUntil(SETTLE_MS);
  const leaver = nodeId(0);
  sim.leave(leaver);
  const ms = runUntilAll(sim, (observer) => stateIs(sim, observer, leaver, 'left'), 60_000);
  sim.crash(leaver, true);
  return ms;
}

/** Every node starts alone and joins through the first `seeds`: ms until every node has every other alive. */
export function formation(nodes: number, seed: number, loss: number, seeds: number, limitMs: number): number {
  const sim = new SwimSimulation({ nodes, seed, network: lan(loss), start: { seeds } });
  const all = sim.upIds();
  return runUntilAll(
    sim,
    (observer) =>
      sim
        .machine(observer)
        .members()
        .filter((m) => m.state === 'alive').length ===
      nodes - 1,
    limitMs,
    all,
  );
}

/** Whether `observer` sees `member` in `state` (a node is what it is to itself). */
function stateIs(sim: SwimSimulation, observer: string, member: string, state: string): boolean {
  return observer === member || sim.machine(observer).member(member)?.state === state;
}

function isAlive(sim: SwimSimulation, observer: string, member: string): boolean {
  const state = sim.machine(observer).member(member)?.state;
  return state === 'alive' || state === 'suspect';
}

/**
 * Runs the simulation until `holds` is true for every node that is up (or
 * for `observers`), and returns the virtual ms that took, or Infinity past `limitMs`.
 * Nodes that already hold are not asked again.
 */
function runUntilAll(
  sim: SwimSimulation,
  holds: (observer: string) => boolean,
  limitMs: number,
  observers: string[] = sim.upIds(),
): number {
  const start = sim.now;
  const up = new Set(sim.upIds());
  let pending = observers.filter((observer) => up.has(observer));
  for (;;) {
    pending = pending.filter((observer) => !holds(observer));
    if (pending.length === 0) return sim.now - start;
    if (sim.now - start >= limitMs) return Infinity;
    sim.runFor(STEP_MS);
  }
}
