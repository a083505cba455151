/** The bpfpipe subcommands, in the order `bpfpipe --help` lists them. */
import type { Command } from 'commander';
import { runCommand } from './run.js';
import { attachCommand } from './attach.js';
import { detachCommand } from './detach.js';
import { listCommand } from './list.js';
import { demoCommand } from './demo.js';
import { replayCommand } from './replay.js';
import { subscribeCommand } from './subscribe.js';

export function extraCommands(): Command[] {
  return [runCommand(), attachCommand(), detachCommand(), listCommand(), demoCommand(), replayCommand(), subscribeCommand()];
}
