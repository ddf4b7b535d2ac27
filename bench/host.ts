// The machine the figures were taken on, for the output.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

/** CPUs the bench may use, to turn the machine's busy share into "% of one CPU". */
export const hostCpus = os.availableParallelism?.() ?? os.cpus().length;

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGb: number;
  os: string;
  node: string;
  loadAverage1mBefore: number;
}

export function machine(): Machine {
  let cpuModel = 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    // not Linux
  }
  let nproc = os.availableParallelism?.() ?? os.cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    // no coreutils
  }
  return {
    nproc,
    cpuModel,
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverage1mBefore: Math.round((os.loadavg()[0] ?? NaN) * 100) / 100,
  };
}
