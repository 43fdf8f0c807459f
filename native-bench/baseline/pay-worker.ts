// The paying baseline's worker thread: the service's shape with none of its bookkeeping. Every
// tick it takes what the front put in the ring and sends each payment once to one processor
// with the service's own client (undici, keep-alive). No database, no claims, no router, no
// retry: whatever fails is dropped. Runs at the service's worker nice value.
import { setPriority } from 'node:os';
import { workerData } from 'node:worker_threads';
import { ProcessorClient } from '../../src/pay/client.js';
import { paymentBody } from '../../src/pay/dispatcher.js';
import { formatUuid } from '../../src/queue/record.js';
import { Ring } from '../../src/queue/ring.js';

export interface PayWorkerData {
  ring: SharedArrayBuffer;
  origin: string;
  tick_ms: number;
  nice: number;
  connections: number;
}

const data = workerData as PayWorkerData;
const ring = Ring.attach(data.ring);
const client = new ProcessorClient({
  origin: data.origin,
  connections: data.connections,
  request_timeout_ms: 6_000,
  connect_timeout_ms: 1_000,
});
try {
  setPriority(0, data.nice);
} catch {
  // not Linux, or not allowed: the floor is then measured at nice 0
}

const tick = (): void => {
  for (let r = ring.pop(); r !== null; r = ring.pop()) void client.pay(paymentBody(formatUuid(r.id), r.amount_cents, Date.now()));
  setTimeout(tick, data.tick_ms);
};
tick();
