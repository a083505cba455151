/** Option value parsers: bad values are usage errors (exit 2) with a one-line reason. */
import { InvalidArgumentError, type Command } from 'commander';
import { FORMATS, type Format } from './output/formats.js';

export function positiveInt(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return Number(v);
  };
}

export function nonNegativeInt(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return Number(v);
  };
}

export function seconds(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0) || n > 365 * 86400) throw new InvalidArgumentError('must be a number of seconds > 0');
  return n;
}

export function slotList(v: string): number[] {
  if (!/^\d+(,\d+)*$/.test(v)) throw new InvalidArgumentError('must be a comma-separated list of slot numbers, e.g. 0,2,3');
  return v.split(',').map(Number);
}

export function format(v: string): Format {
  if (!(FORMATS as readonly string[]).includes(v)) throw new InvalidArgumentError(`must be one of ${FORMATS.join(', ')}`);
  return v as Format;
}

export function hostPort(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('must be HOST:PORT (e.g. 127.0.0.1:9464)');
  const port = Number(m[3]);
  if (port > 65535) throw new InvalidArgumentError('port must be below 65536');
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function pagesPerCpu(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || (n & (n - 1)) !== 0 || n > 1 << 20) throw new InvalidArgumentError('must be a power of two (1, 2, 4, ... pages)');
  return n;
}

/** Options shared by the commands that stream events (run, listen, replay). */
export function addOutputOptions(c: Command): Command {
  return c
    .option('--format <format>', 'json, hex, pcapng or none (count only)', format, 'json')
    .option('--count <n>', 'stop after N events', positiveInt('--count'))
    .option('--duration <s>', 'stop after S seconds', seconds)
    .option('--output <file>', 'write events to FILE instead of stdout');
}

export interface OutputFlags {
  format: Format;
  count?: number;
  duration?: number;
  output?: string;
}
