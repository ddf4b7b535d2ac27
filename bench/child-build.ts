// The servers under test run as plain JavaScript, type-stripped from bench/*.ts, and not under
// tsx: on Node 20 a TypeScript loader lives in the process it loads (a module-hooks thread and
// its caches), which added about 30 MB to oidc-provider's RSS and 55 to 65 MB to Portcullis',
// and the figures are those processes' memory.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './constants.js';

const HERE = path.join(ROOT, 'bench');

/**
 * Writes a JavaScript copy of every bench module to a fresh folder and returns it. The folder is
 * inside the checkout so that the copies resolve node_modules as bench/ does; the modules' own
 * imports of each other keep working as the copies keep their names.
 */
export async function buildChildren(): Promise<string> {
  const { default: ts } = await import('typescript');
  const cache = path.join(ROOT, 'node_modules', '.cache', 'portcullis-bench');
  fs.mkdirSync(cache, { recursive: true });
  const out = fs.mkdtempSync(path.join(cache, 'run-'));
  // Inside node_modules, Node does not look further up for the package's "type".
  fs.writeFileSync(path.join(out, 'package.json'), '{ "type": "module" }\n');
  for (const file of fs.readdirSync(HERE)) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
    const source = fs.readFileSync(path.join(HERE, file), 'utf8');
    const { outputText, diagnostics } = ts.transpileModule(source, {
      fileName: file,
      reportDiagnostics: true,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    if (diagnostics?.length) {
      throw new Error(`bench/${file}: ${diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ')}`);
    }
    fs.writeFileSync(path.join(out, file.replace(/\.ts$/, '.js')), outputText);
  }
  return out;
}
