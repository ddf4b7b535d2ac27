import { Worker } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { SigningKey } from '../keys/key-ring.js';

/**
 * The JWS compact serialization (RFC 7515 §7.1) of `payload` (JSON text) under the encoded
 * protected `header`: its signing input (RFC 7515 §5.1) and signature, base64url, with
 * node:crypto's synchronous one-shot sign: ES256 in the JOSE form r‖s (RFC 7518 §3.4), RS256
 * PKCS#1 v1.5 over SHA-256, EdDSA Ed25519 (RFC 8037; it hashes internally). The payload is
 * encoded here rather than by the caller: on a signer thread, that is work the event loop no
 * longer does.
 *
 * Self-contained on purpose: it is also the signer thread's code (its source is handed to the
 * worker), so it reaches node:crypto through process.getBuiltinModule, not through an import.
 */
function compactJws(alg: string, key: KeyObject, header: string, payload: string): string {
  const digest = alg === 'ES256' || alg === 'RS256' ? 'sha256' : alg === 'EdDSA' ? null : undefined;
  if (digest === undefined) throw new Error(`unsupported signing algorithm ${alg}`);
  const { sign } = process.getBuiltinModule('node:crypto');
  const input = `${header}.${Buffer.from(payload).toString('base64url')}`;
  return `${input}.${sign(digest, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** What the main thread sends a signer thread. */
/** A batch is arrays of strings, not an array of objects: cheaper to copy to the thread (measured). */
type ToThread = { type: 'key'; kid: string; alg: string; key: KeyObject } | { type: 'batch'; id: number; kids: string[]; headers: string[]; payloads: string[] };
/** What it answers: one JWS per job, in order, or why the batch failed. */
type FromThread = { id: number; tokens: string[] } | { id: number; error: string };

/**
 * The signer thread's program, run from its source (`eval`), so that the same code serves the
 * built server and the TypeScript sources under test. Keys arrive once per kid; batches of
 * payloads to sign come back as one message of compact JWSs.
 */
function signerThread(sign: typeof compactJws): void {
  const { parentPort } = process.getBuiltinModule('node:worker_threads');
  const keys = new Map<string, { alg: string; key: KeyObject }>();
  parentPort?.on('message', (msg: ToThread) => {
    if (msg.type === 'key') {
      keys.set(msg.kid, { alg: msg.alg, key: msg.key });
      return;
    }
    let answer: FromThread;
    try {
      answer = {
        id: msg.id,
        tokens: msg.payloads.map((payload, i) => {
          const kid = msg.kids[i] as string;
          const entry = keys.get(kid);
          if (!entry) throw new Error(`no key ${kid} in the signer thread`);
          return sign(entry.alg, entry.key, msg.headers[i] as string, payload);
        }),
      };
    } catch (err) {
      answer = { id: msg.id, error: err instanceof Error ? err.message : String(err) };
    }
    parentPort?.postMessage(answer);
  });
}

/**
 * Signing jobs per message to a thread: enough to amortize the hand-over, few enough to overlap.
 * Measured under `npm run bench` (50 connections, ES256; docs/performance.md): 4 against the
 * reference server 0.77 and 0.78, 8 0.70 to 0.74, 16 0.62, 2 0.70, 1 0.62.
 */
const MAX_BATCH = 4;

/** Who watches the signatures: a duration per signature (the metrics), a span per signature (tracing on). */
export interface SignerTelemetry {
  signed?: (onThread: boolean, seconds: number) => void;
  tracer?: Tracer | undefined;
}

interface Job {
  key: SigningKey;
  header: string;
  payload: string;
  /** performance.now() when asked for: the thread's answer is timed from here. */
  start: number;
  resolve: (token: string) => void;
  reject: (err: unknown) => void;
}

interface Thread {
  worker: Worker;
  /** kids whose private key this thread holds. */
  kids: Set<string>;
  /** Batches sent and not answered yet, by id. */
  pending: Map<number, Job[]>;
}

/**
 * Signs access tokens. With `threads` > 0, on that many worker threads: signing is the
 * largest single cost of a token (about a third of the main thread's time per request,
 * docs/performance.md), and a thread moves it off the event loop onto another core.
 * The requests of one event-loop turn go to a thread as one batch (one message each
 * way), so the hand-over costs little per token. With 0 threads, or once a thread
 * has died, signing happens on the calling thread: slower, never wrong.
 */
export class JwsSigner {
  private readonly threads: Thread[] = [];
  private queue: Job[] = [];
  private flushScheduled = false;
  private nextThread = 0;
  private nextBatch = 0;
  private closed = false;
  /** Threads not started yet: they start with the first signature, so a process that signs nothing (the CLI) has none. */
  private unstarted: number;

  constructor(
    threads: number,
    private readonly onThreadError: (err: unknown) => void = () => {},
    private readonly telemetry: SignerTelemetry = {},
  ) {
    this.unstarted = threads;
  }

  /** Thread count that is still working (0 until the first signature). */
  get liveThreads(): number {
    return this.threads.length;
  }

  /** The compact JWS of `payload` (JSON text) under `key`, with the encoded protected `header`. */
  sign(key: SigningKey, header: string, payload: string): Promise<string> {
    const tracer = this.telemetry.tracer;
    if (!tracer) return this.signUntraced(key, header, payload);
    // Only with tracing on: a span (a child of the grant's) and one more promise per token.
    const span = tracer.startSpan('jws.sign', { attributes: { 'jws.alg': key.alg, 'jws.kid': key.kid } });
    return this.signUntraced(key, header, payload).then(
      (token) => {
        span.setAttribute('jws.on_thread', this.threads.length > 0);
        span.end();
        return token;
      },
      (err: unknown) => {
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'signing failed' });
        span.end();
        throw err;
      },
    );
  }

  private signUntraced(key: SigningKey, header: string, payload: string): Promise<string> {
    if (this.unstarted > 0 && !this.closed) {
      for (; this.unstarted > 0; this.unstarted--) this.threads.push(this.startThread());
    }
    const start = performance.now();
    if (this.threads.length === 0) {
      try {
        const token = compactJws(key.alg, key.privateKeyObject, header, payload);
        this.telemetry.signed?.(false, (performance.now() - start) / 1000);
        return Promise.resolve(token);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ key, header, payload, start, resolve, reject });
      if (this.queue.length >= MAX_BATCH) {
        // Under load, hand a batch over at once: the thread signs it while this thread goes on
        // parsing the next requests (one batch of everything read in a turn would make the two
        // threads take turns waiting for each other).
        this.flush();
      } else if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After the poll phase: the requests read in this turn of the loop join the batch.
        setImmediate(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    });
  }

  /** Stops the threads; what they had not answered yet is signed here. */
  async close(): Promise<void> {
    this.closed = true;
    this.unstarted = 0;
    const threads = this.threads.splice(0);
    await Promise.all(threads.map((t) => t.worker.terminate()));
    for (const t of threads) this.signHere(t);
    this.flush();
  }

  private flush(): void {
    const jobs = this.queue;
    this.queue = [];
    if (jobs.length === 0) return;
    const thread = this.threads[this.nextThread++ % Math.max(1, this.threads.length)];
    if (!thread) {
      for (const job of jobs) signJob(job);
      return;
    }
    for (const job of jobs) {
      if (thread.kids.has(job.key.kid)) continue;
      thread.worker.postMessage({ type: 'key', kid: job.key.kid, alg: job.key.alg, key: job.key.privateKeyObject } satisfies ToThread);
      thread.kids.add(job.key.kid);
    }
    const id = this.nextBatch++;
    if (thread.pending.size === 0) thread.worker.ref(); // a batch in flight keeps the process alive
    thread.pending.set(id, jobs);
    thread.worker.postMessage({
      type: 'batch',
      id,
      kids: jobs.map((j) => j.key.kid),
      headers: jobs.map((j) => j.header),
      payloads: jobs.map((j) => j.payload),
    } satisfies ToThread);
  }

  private startThread(): Thread {
    const worker = new Worker(`(${signerThread.toString()})(${compactJws.toString()})`, { eval: true, name: 'portcullis-signer' });
    worker.unref(); // idle, it must not keep the process alive
    const thread: Thread = { worker, kids: new Set(), pending: new Map() };
    worker.on('message', (msg: FromThread) => {
      const jobs = thread.pending.get(msg.id);
      if (!jobs) return;
      thread.pending.delete(msg.id);
      if (thread.pending.size === 0) worker.unref();
      if ('error' in msg) {
        const err = new Error(`signer thread: ${msg.error}`);
        for (const job of jobs) job.reject(err);
      } else {
        const now = performance.now();
        const signed = this.telemetry.signed;
        jobs.forEach((job, i) => {
          signed?.(true, (now - job.start) / 1000);
          job.resolve(msg.tokens[i] as string);
        });
      }
    });
    const retire = (err: unknown) => {
      const index = this.threads.indexOf(thread);
      if (index < 0) return;
      this.threads.splice(index, 1);
      if (!this.closed) this.onThreadError(err);
      this.signHere(thread);
    };
    worker.on('error', retire);
    worker.on('exit', (code) => retire(new Error(`signer thread exited with code ${code}`)));
    return thread;
  }

  /** Signs on this thread what `thread` had not answered. */
  private signHere(thread: Thread): void {
    const batches = [...thread.pending.values()];
    thread.pending.clear();
    for (const jobs of batches) for (const job of jobs) signJob(job);
  }
}

function signJob(job: Job): void {
  try {
    job.resolve(compactJws(job.key.alg, job.key.privateKeyObject, job.header, job.payload));
  } catch (err) {
    job.reject(err);
  }
}
