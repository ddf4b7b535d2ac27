// The protocol between the bench (run.ts) and a server under test it forks (*-server.ts):
// the child reports over IPC (ready, provisioned, or error when its `main` fails) and stops,
// politely, on {type: 'stop'}, on SIGTERM/SIGINT, or when its parent is gone.

/** A client of the server under test, with the secret the load authenticates with. */
export interface BenchClient {
  id: string;
  secret: string;
}

export interface PortcullisProvisioning {
  viaService: number;
  bulk: number;
  serviceSeconds: number;
  bulkSeconds: number;
  rssMb: number;
}

export interface StaticProvisioning {
  static: number;
}

/** The server listens (the serve phase of Portcullis, or oidc-provider). */
export interface ReadyMessage {
  type: 'ready';
  url: string;
  issuer: string;
  audience: string;
  /** What stores the server's data, for the output. */
  database: string;
  /** The throwaway PostgreSQL database, whose backends work for the server under test. */
  databaseName?: string | undefined;
  /** With --workers: the cluster's workers, measured with the primary. */
  workerPids?: number[];
  /** Measured by the child itself; absent where the parent has to sum several processes. */
  rssAtReadyMb?: number | undefined;
  /** oidc-provider's clients are made up by the child, Portcullis' by the provision phase. */
  clients?: BenchClient[];
  provisioning?: StaticProvisioning;
}

/** The provision phase of Portcullis is done (and exits). */
export interface ProvisionedMessage {
  type: 'provisioned';
  /** The throwaway PostgreSQL database the serve phase takes over; absent when embedded. */
  database?: string | undefined;
  clients: BenchClient[];
  orgId: string;
  /** A client with the client-reader role, for the listing measurement. */
  lister: BenchClient;
  provisioning: PortcullisProvisioning;
}

export interface ErrorMessage {
  type: 'error';
  message: string;
}

export type ChildMessage = ReadyMessage | ProvisionedMessage | ErrorMessage;
export type ParentMessage = { type: 'stop' };

/** Reports to the parent; a child forked without IPC (run by hand) reports to no one. */
export function report(msg: ChildMessage, then?: () => void): void {
  if (!process.send) then?.();
  else if (then) process.send(msg, () => then());
  else process.send(msg);
}

/**
 * Runs `main` as a server child. `stop(code)` must end the process (and be safe to call more
 * than once): it is called on every way the parent may ask for a stop, and when `main` fails.
 */
export function runChild(main: () => Promise<void>, stop: (code: number) => Promise<void>): void {
  process.on('message', (msg: ParentMessage | undefined) => {
    if (msg?.type === 'stop') void stop(0);
  });
  process.on('disconnect', () => void stop(0)); // the parent is gone
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  main().catch((err: unknown) => {
    const e = err as Error | undefined;
    console.error(e?.stack ?? String(err));
    report({ type: 'error', message: e?.message ?? String(err) });
    void stop(1);
  });
}
