/**
 * The first-run setup link as a box of plain text, for a person reading the terminal of
 * `npm start`: the JSON log line that also carries it drowns among the request lines.
 */
function setupBanner(link: string): string {
  const lines = [
    'Portcullis has no users yet. Create the first platform administrator here:',
    '',
    `  ${link}`,
    '',
    'The link works once, for 24 hours; a restart prints a new one while no user exists.',
    'Or set ADMIN_EMAIL and ADMIN_PASSWORD before the first start.',
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const rule = `+${'-'.repeat(width + 2)}+`;
  return ['', rule, ...lines.map((l) => `| ${l.padEnd(width)} |`), rule, ''].join('\n');
}

/** Writes the banner to stderr, beside the log on stdout, so it shows whatever the log is piped into. */
export function printSetupBanner(link: string): void {
  process.stderr.write(`${setupBanner(link)}\n`);
}
