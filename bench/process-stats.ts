/** What a running process has used, read from /proc (Linux): its CPU time and its resident memory. */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (user and system) all threads of process `pid` have run so far, to the nanosecond. */
export function cpuSeconds(pid: number): number {
  let nanoseconds = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      nanoseconds += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return nanoseconds / 1e9;
}

/** Resident set size of process `pid`, in bytes. */
export function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
  if (line === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(line[1]) * 1024;
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/**
 * CPU seconds (user and system) of this process's children that have ended
 * and been waited for, to 10 ms (/proc/self/stat cutime and cstime).
 */
export function endedChildrenCpuSeconds(): number {
  // The fields after the command name, which is in parentheses and may hold spaces.
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime are fields 16 and 17 of the whole line, 14 and 15 after the name.
  return (Number(fields[13]) + Number(fields[14])) / USER_HZ;
}
