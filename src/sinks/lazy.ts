/**
 * The sinks' libraries load on first use, not when `bpfpipe` is imported: prom-client, the NATS
 * client and ws cost ~70 ms of start-up together, which a program that does not use them should not pay.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const promClient = (): typeof import('prom-client') => require('prom-client') as typeof import('prom-client');
export const natsClient = (): typeof import('@nats-io/transport-node') => require('@nats-io/transport-node') as typeof import('@nats-io/transport-node');
export const jetstreamLib = (): typeof import('@nats-io/jetstream') => require('@nats-io/jetstream') as typeof import('@nats-io/jetstream');
export const wsLib = (): typeof import('ws') => require('ws') as typeof import('ws');
