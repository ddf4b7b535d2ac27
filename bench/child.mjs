// The protocol between bench/run.mjs and a server under test it forks (bench/*-server.mjs):
// the child reports over IPC ({type: 'ready' | 'provisioned' | ...}, or {type: 'error', message}
// when `main` fails) and stops, politely, on {type: 'stop'}, on SIGTERM/SIGINT, or when its parent
// is gone. `stop(code)` must end the process (and be safe to call more than once).
export function runChild(main, stop) {
  process.on('message', (msg) => {
    if (msg?.type === 'stop') void stop(0);
  });
  process.on('disconnect', () => void stop(0)); // the parent is gone
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  main().catch((err) => {
    console.error(err?.stack ?? String(err));
    process.send?.({ type: 'error', message: err?.message ?? String(err) });
    void stop(1);
  });
}
