#!/usr/bin/env node
// The `grey` command: the built CLI when `dist/` exists (an installed package),
// otherwise the TypeScript sources through tsx (a development checkout).
import { existsSync } from 'node:fs';

const built = new URL('../dist/system/cli.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(new URL('../system/cli.ts', import.meta.url).href);
}
process.exitCode = await cli.main(process.argv.slice(2));
