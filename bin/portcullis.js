#!/usr/bin/env node
// The `portcullis` command. `npm start` builds dist/ first; a global install ships it built.
import('../dist/cli/main.js')
  .then((m) => m.main(process.argv))
  .catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
      console.error('portcullis: not built yet. Run `npm run build` (or `npm start`, which builds first).');
    } else {
      console.error(err);
    }
    process.exit(1);
  });
