/** Output pieces that depend on the packet decoder and the pcapng writer. */
import type { RecordOptions } from '../../index.js';
import type { Format, OutputOptions, OutputWriter } from './formats.js';

export const outputExtras: Partial<Record<Format, (o: OutputOptions) => OutputWriter>> = {};

export function recordOptions(): RecordOptions {
  return {};
}
