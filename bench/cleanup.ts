// What the bench must not leave behind however it ends: server processes, their temporary
// folders and a running load.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
const currentLoads = new Set<{ stop(): void }>();

export function trackChild(child: ChildProcess): () => void {
  children.add(child);
  return () => children.delete(child);
}

export function trackTempDir(dir: string): () => void {
  tempDirs.add(dir);
  return () => {
    fs.rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
}

/** Starts (or, with `undefined` and the instance, stops) tracking a running load generator. */
export function trackLoad(load: { stop(): void } | undefined, ended?: { stop(): void }): void {
  if (load) currentLoads.add(load);
  else if (ended) currentLoads.delete(ended);
  else currentLoads.clear();
}

export function killAll(): void {
  for (const load of currentLoads) load.stop();
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

export function installCleanup(log: (msg: string) => void): void {
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      log(`\n${signal}: stopping the servers`);
      // A polite stop lets the Portcullis child drop its throwaway PostgreSQL database; SIGKILL follows on exit.
      for (const child of children) child.kill('SIGTERM');
      setTimeout(() => process.exit(130), 1500).unref();
    });
  }
}
