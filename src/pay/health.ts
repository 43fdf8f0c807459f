// The health leader's poller: one GET /payments/service-health per processor per interval,
// for the whole cluster (the processors answer one call per 5 s window and 429 the rest).
import { getText } from './get-text.js';
import { C_HEALTH_POLLS, type Counters } from '../counters.js';
import type { Logger } from '../log.js';
import type { Health, Processor } from '../processor.js';
import type { HealthRow } from '../store/bus.js';

export interface HealthPollerOptions {
  origins: [string, string];
  interval_ms: number;
  timeout_ms: number;
  isLeader(): Promise<boolean>;
  publish(row: HealthRow): Promise<void>;
  counters: Counters;
  log: Logger;
}

async function pollOnce(origin: string, timeout_ms: number): Promise<Omit<Health, 'checked_at_ms'> | null> {
  const { status, text } = await getText(`${origin}/payments/service-health`, timeout_ms);
  if (status !== 200) return null; // 429: someone else used this window
  try {
    const body = JSON.parse(text) as { failing?: unknown; minResponseTime?: unknown };
    if (typeof body.failing !== 'boolean' || typeof body.minResponseTime !== 'number') return null;
    return { failing: body.failing, min_response_ms: body.minResponseTime };
  } catch {
    return null;
  }
}

// Slightly over the interval, so two polls never land in one of the processor's 5 s windows.
const WINDOW_MARGIN_MS = 50;

export function startHealthPoller(o: HealthPollerOptions): { stop(): void } {
  let stopped = false;
  const timers: NodeJS.Timeout[] = [];
  const tick = async (p: Processor): Promise<void> => {
    try {
      if (!(await o.isLeader())) return;
      o.counters.add(C_HEALTH_POLLS + p);
      const reading = await pollOnce(o.origins[p], o.timeout_ms);
      if (reading === null) return;
      await o.publish({ processor: p, ...reading, checked_at_ms: Date.now() });
    } catch (err) {
      o.log.debug('health poll failed', { processor: p, err: String(err) });
    }
  };
  const loop = (p: Processor): void => {
    if (stopped) return;
    void tick(p).finally(() => {
      if (!stopped) timers[p] = setTimeout(() => loop(p), o.interval_ms + WINDOW_MARGIN_MS);
    });
  };
  loop(0);
  loop(1);
  return {
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
    },
  };
}
