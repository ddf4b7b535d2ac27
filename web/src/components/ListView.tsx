import { useState, type Key, type ReactNode } from 'react';
import { messageOf, type Page } from '../api';
import type { Resource } from '../hooks';
import { Button, ErrorText, Loading } from './ui';

/**
 * The states of a loaded list: "Loading …" until the first answer, the error where the
 * list would be, `empty` when there is nothing, and `children(items)` otherwise.
 */
export function ListView<T>({
  items,
  loading,
  error,
  what,
  empty,
  children,
}: {
  items: readonly T[] | undefined;
  loading: boolean;
  error: string | undefined;
  /** Completes "Loading …", e.g. "users". */
  what: string;
  empty: ReactNode;
  children(items: readonly T[]): ReactNode;
}) {
  return (
    <>
      {loading && !items && <Loading what={what} />}
      <ErrorText message={error} />
      {items?.length === 0 && empty}
      {items && items.length > 0 && children(items)}
    </>
  );
}

/** A table of items, one row each; with `actions`, a last column (named only for screen readers) for their buttons. */
export function DataTable<T>({
  label,
  columns,
  actions,
  items,
  rowKey,
  row,
  card = true,
}: {
  label?: string;
  columns: readonly string[];
  actions?: boolean;
  items: readonly T[];
  rowKey(item: T): Key;
  /** The cells of one row. */
  row(item: T): ReactNode;
  card?: boolean;
}) {
  return (
    <div className={card ? 'table-wrap card' : 'table-wrap'}>
      <table aria-label={label}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
            {actions && (
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <tr key={rowKey(item)}>{row(item)}</tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** "Show more …" under a paged list: fetches the page after the last one loaded and appends it. */
export function LoadMore<T>({ label, pages, fetchPage }: { label: string; pages: Resource<Page<T>>; fetchPage(cursor: string): Promise<Page<T>> }) {
  const [error, setError] = useState<string>();
  const cursor = pages.data?.next_cursor;
  if (!cursor) return null;
  const loadMore = async () => {
    setError(undefined);
    try {
      const next = await fetchPage(cursor);
      pages.update((p) => ({ data: [...p.data, ...next.data], next_cursor: next.next_cursor }));
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <div className="list-more">
      <Button onClick={() => void loadMore()}>{label}</Button>
      <ErrorText message={error} />
    </div>
  );
}
