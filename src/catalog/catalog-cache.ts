import type { Change, ChangeSubscriber } from '../store/change-feed.js';
import type { Repositories } from '../store/repositories/index.js';
import { serially } from '../serially.js';
import { loadCatalog, type CatalogSnapshot } from './catalog.js';

/** This process's copy of the catalog, reloaded whole on every catalog change (it is small). */
export class CatalogCache implements ChangeSubscriber {
  private current: CatalogSnapshot | undefined;
  private readonly reload = serially(async () => {
    this.current = await loadCatalog(this.read);
  });

  constructor(private readonly read: Repositories) {}

  /** The snapshot; `load()` must have run. */
  get snapshot(): CatalogSnapshot {
    if (!this.current) throw new Error('the catalog is not loaded yet');
    return this.current;
  }

  load(): Promise<void> {
    return this.reload();
  }

  async apply(change: Change): Promise<void> {
    if (change.kind === 'catalog') await this.reload();
  }

  reset(): Promise<void> {
    return this.reload();
  }
}
