// Owns: the bench's figures — medians and percentiles, the CPU and memory of the service's processes (read from
// /proc, as an operator's tools would), and Redis's own command counters. Must not: start or drive anything.

import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

export const median = (xs: number[]): number => percentile(xs, 0.5);

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * p;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return s[lo]! + (s[hi]! - s[lo]!) * (at - lo);
}

export const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');

const TICKS_PER_SECOND = 100;

/** The processes of a process group (an npm script and the service it started): pid, CPU time (µs) and RSS (bytes). */
export function groupUsage(pgid: number): { pid: number; cmd: string; cpuMicros: number; rssBytes: number }[] {
  const out: { pid: number; cmd: string; cpuMicros: number; rssBytes: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) start at the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue;
      const cpu = ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
      const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(entry), cmd, cpuMicros: cpu, rssBytes: rss });
    } catch {
      // the process ended while being read
    }
  }
  return out;
}

/** CPU µs used so far by one process. */
export function processCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
}

/** CPU µs used so far by every process of the group. */
export function groupCpu(pgid: number): number {
  return groupUsage(pgid).reduce((sum, p) => sum + p.cpuMicros, 0);
}

/** The RSS of the group's service process (the node process running a conncheck-* bin). */
export function serviceRss(pgid: number): number {
  return Math.max(
    0,
    ...groupUsage(pgid)
      .filter((p) => /conncheck-/.test(p.cmd))
      .map((p) => p.rssBytes),
  );
}

/** Every command Redis has run since its last CONFIG RESETSTAT (from INFO commandstats). */
export async function redisCommands(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    // The bench's own reading is not the service's work.
    if (match[1] !== 'info' && match[1] !== 'config|resetstat') calls += Number(match[2]);
  }
  return calls;
}

/** CPU µs one Redis server has used since it started: used_cpu_sys + used_cpu_user from INFO cpu (all its threads). */
export async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (field('used_cpu_sys') + field('used_cpu_user')) * 1e6;
}

/**
 * The redirections and refusals a cluster node has answered since its last CONFIG RESETSTAT (INFO errorstats: MOVED,
 * ASK, TRYAGAIN, CLUSTERDOWN): a client whose slot map is right sees none; a stale one sees a MOVED per command.
 */
export async function redisRedirections(redis: Redis): Promise<number> {
  const info = await redis.info('errorstats');
  let count = 0;
  for (const match of info.matchAll(/^errorstat_(MOVED|ASK|TRYAGAIN|CLUSTERDOWN):count=(\d+)/gm)) count += Number(match[2]);
  return count;
}

/**
 * Redis round trips seen with MONITOR while `during` runs: a burst of commands one client sends without another
 * client's command between them, within 200 µs, is one round trip (a pipeline, or one script call). An estimate, and
 * said so where it is printed; MONITOR itself slows Redis, so nothing else is timed while it runs. Commands a Lua
 * script runs are counted apart (`inScripts`): they cost Redis CPU, not round trips.
 */
export async function roundTrips(
  monitorClient: Redis,
  during: () => Promise<void>,
): Promise<{ roundTrips: number; commands: number; inScripts: number; byCommand: Record<string, number> }> {
  const monitor = await monitorClient.monitor();
  const lines: { time: number; client: string; command: string }[] = [];
  monitor.on('monitor', (time: string, args: string[], source: string) => {
    lines.push({ time: Number(time), client: source, command: String(args[0]).toLowerCase() });
  });
  await new Promise((r) => setTimeout(r, 50));
  await during();
  await new Promise((r) => setTimeout(r, 200));
  monitor.disconnect();
  let trips = 0;
  let commands = 0;
  let inScripts = 0;
  let last: { time: number; client: string } | undefined;
  const byCommand: Record<string, number> = {};
  for (const line of lines) {
    if (line.client === 'lua') {
      inScripts++;
      continue;
    }
    commands++;
    byCommand[line.command] = (byCommand[line.command] ?? 0) + 1;
    if (!last || last.client !== line.client || line.time - last.time > 0.0002) trips++;
    last = line;
  }
  return { roundTrips: trips, commands, inScripts, byCommand };
}
