// Starts a TypeScript worker (workerData.file) under tsx: Node 20 workers do not take tsx's hooks from --import.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.file);
