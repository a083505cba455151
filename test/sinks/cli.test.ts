/** The sink flags and `subscribe` at the command line: help, defaults, usage errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from '../cli/support.js';
import { listenAddress } from '../../src/cli/sinks.js';

test('--metrics/--web addresses: a bare port binds 127.0.0.1; any other host must be given', () => {
  assert.deepEqual(listenAddress('8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(listenAddress(':9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(listenAddress('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 });
  assert.deepEqual(listenAddress('[::1]:80'), { host: '::1', port: 80 });
  assert.throws(() => listenAddress('host'), /HOST:PORT/);
  assert.throws(() => listenAddress('1:70000'), /below 65536/);
});

test('run and listen have the sink flags; subscribe is a command with help', () => {
  for (const sub of ['run', 'listen']) {
    const r = cli([sub, '--help']);
    assert.equal(r.status, 0);
    for (const flag of ['--metrics', '--metrics-linger', '--count-by', '--nats', '--subject', '--nats-format', '--nats-buffer', '--web', '--web-field']) assert.ok(r.stdout.includes(flag), `${sub} ${flag}`);
  }
  assert.match(cli(['--help']).stdout, /subscribe \[options\] <nats-url>/);
  const s = cli(['subscribe', '--help']);
  assert.equal(s.status, 0);
  assert.match(s.stdout, /Usage: bpfpipe subscribe/);
});

test('subscribe: bad subjects, durable names and deliver policies are usage errors (exit 2)', () => {
  const cases: [string[], RegExp][] = [
    [['subscribe', 'nats://127.0.0.1:1', '--subject', 'a..b'], /no empty tokens/],
    [['subscribe', 'nats://127.0.0.1:1', '--subject', 'a.>.b'], /'>' may only be the last token/],
    [['subscribe', 'nats://127.0.0.1:1', '--durable', 'a b'], /letters, digits/],
    [['subscribe', 'nats://127.0.0.1:1', '--deliver', 'sometimes'], /all, new or last/],
    [['subscribe', 'nats://127.0.0.1:1', '--format', 'xml'], /json, hex, pcapng, none/],
    [['subscribe'], /missing required argument/],
    [['run', 'x.o', '--iface', 'nosuchdev0', '--web-field', 'a..b'], /not a field name/],
    [['run', 'x.o', '--iface', 'nosuchdev0', '--nats-format', 'xml'], /json or raw/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
});
