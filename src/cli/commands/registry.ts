/** Commands whose modules are registered here as they exist (run, attach, detach, list, demo, replay, subscribe). */
import type { Command } from 'commander';

export function extraCommands(): Command[] {
  return [];
}
