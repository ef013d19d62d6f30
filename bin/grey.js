#!/usr/bin/env node
// The `grey` command. In a development checkout (TypeScript sources present)
// it runs the sources through tsx, so it is never stale; an installed package
// ships only `dist/` and runs the build.
import { existsSync } from 'node:fs';

// `grey check t.jsonl | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const source = new URL('../system/cli.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
} else {
  cli = await import(new URL('../dist/system/cli.js', import.meta.url).href);
}
process.exitCode = await cli.main(process.argv.slice(2));
