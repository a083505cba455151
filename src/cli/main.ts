#!/usr/bin/env node
/** The bpfpipe command. Exit codes: 0 done, 1 runtime failure, 2 bad usage or bad input. */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { VerifierError } from '../index.js';
import { describe, exitCodeFor, EXIT_OK } from './exit.js';
import { listenCommand } from './commands/listen.js';
import { genCommand } from './commands/gen.js';
import { extraCommands } from './commands/registry.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

function build(): Command {
  const program = new Command('bpfpipe')
    .description('the Linux eBPF event output pipe: load tc programs, read their perf/ring buffer events, decode, export')
    .version(pkg.version)
    .option('--debug', 'print stack traces and the whole verifier log on errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const [run, attach, detach, list, demo, ...more] = extraCommands();
  const commands = [run!, attach!, listenCommand(), detach!, list!, genCommand(), demo!, ...more];
  for (const c of commands) program.addCommand(c.exitOverride().showHelpAfterError('(run with --help for usage)'));
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = build();
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not errors; commander already printed the usage problem.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? EXIT_OK : 2;
    }
    const debug = argv.includes('--debug');
    process.stderr.write(`${describe(err)}\n`);
    if (debug) {
      if (err instanceof VerifierError) process.stderr.write(`${err.log.join('\n')}\n`);
      if (err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    }
    return exitCodeFor(err);
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`bpfpipe: internal error: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
