import { useCallback, useEffect, useRef, useState } from 'react';
import { detailsOf, messageOf } from './api';

export interface Resource<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload(): void;
  /** Updates the loaded value in place after a change the page made itself. */
  update(fn: (data: T) => T): void;
}

/** Loads `load()` when `key` changes; a page shows `error` where the data would be. */
export function useResource<T>(load: () => Promise<T>, key: string): Resource<T> {
  const [data, setData] = useState<T | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let live = true;
    setLoading(true);
    loadRef.current().then(
      (value) => {
        if (!live) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (!live) return;
        setError(messageOf(err));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const update = useCallback((fn: (data: T) => T) => setData((d) => (d === undefined ? d : fn(d))), []);
  return { data, error, loading, reload, update };
}

/** Runs an action for a button or form: `busy` while it runs, `error` in plain words if it fails. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setErrorState] = useState<string | undefined>();
  const [details, setDetails] = useState<readonly string[]>([]);
  const setError = useCallback((message: string | undefined) => {
    setErrorState(message);
    setDetails([]);
  }, []);
  const run = useCallback(
    async (action: () => Promise<void>) => {
      setBusy(true);
      setError(undefined);
      try {
        await action();
      } catch (err) {
        setErrorState(messageOf(err));
        setDetails(detailsOf(err));
      } finally {
        setBusy(false);
      }
    },
    [setError],
  );
  return { busy, error, details, setError, run };
}
