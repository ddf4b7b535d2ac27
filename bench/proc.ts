// RSS and CPU time of processes, and the machine's busy time, from Linux's /proc. Elsewhere
// every figure is NaN (shown as "-"), rather than the bench failing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export function readProcStatus(pid: number | string): { rssKb: number; hwmKb: number } {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return { rssKb: NaN, hwmKb: NaN };
  }
}

/** Resets the kernel's peak-RSS mark (VmHWM) of a process we own; false where that is not possible. */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

let clockTicks: number | undefined;

/** User and system CPU seconds of a process, all its threads. */
export function cpuSeconds(pid: number | string): number {
  clockTicks ??= (() => {
    try {
      return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      return 100;
    }
  })();
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may hold spaces: count the fields after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks; // utime + stime
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of the whole machine (/proc/stat), to see what else ran during a measurement. */
export function machineJiffies(): { busy: number; total: number } {
  try {
    const f = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
    return { busy: total - (f[3] ?? NaN) - (f[4] ?? NaN), total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

export interface ProcessCpu {
  name: string;
  seconds: number;
}

/** CPU seconds of every process (pid → {name, seconds}), to name what else ran during a measurement. */
export function processCpu(): Map<string, ProcessCpu> {
  const out = new Map<string, ProcessCpu>();
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    const seconds = cpuSeconds(pid);
    if (!Number.isFinite(seconds)) continue;
    let name = '?';
    try {
      name = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 3).join(' ').slice(0, 80) || `[${fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}]`; // a kernel thread
    } catch {
      // gone
    }
    out.set(pid, { name, seconds });
  }
  return out;
}
