/**
 * A BullMQ worker as a process of its own (as Grey's workers live in the
 * node processes): a no-op processor, `concurrency` jobs at a time. Says
 * `ready` on stdout once it takes jobs; stops on SIGTERM.
 *
 * Run: `node bullWorker.js <redis port> <queue> <concurrency>`
 */
import { Worker } from 'bullmq';

const [port, queue, concurrency] = process.argv.slice(2);
const worker = new Worker(queue, async () => null, {
  connection: { host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null },
  concurrency: Number(concurrency),
});
worker.on('error', (err) => console.error(`bull worker: ${err.message}`));
await worker.waitUntilReady();
console.log('ready');
const stop = async () => {
  await worker.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
