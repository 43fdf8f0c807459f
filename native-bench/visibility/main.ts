// How long a confirmed payment takes to become visible to the summary: starts Postgres, the two
// simulators and two instances, sends a steady rate of payments for a while, then reads each
// instance's rinha_visibility_lag_ms histogram (processor confirmation → committed row) and
// prints its percentiles (bucket upper bounds, so they are upper estimates): over the whole run,
// and after the first --warmup seconds (a cold stack hit at full rate at once is slow for a
// moment; the contest's load ramps up from a few requests per second). It also prints, second
// by second, how many rows took longer than 20 ms, so a start-up tail shows as one.
//   node dist/native-bench/visibility/main.js [--rate 600] [--duration 20] [--warmup 2]
import { Agent, request } from 'undici';
import { startStack } from '../../test/support/stack.js';
import { type Hist, VISIBILITY, mergeHistograms, over, quantile, share, subtract } from './histogram.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const rate = arg('--rate', 600);
  const duration_s = arg('--duration', 20);
  const warmup_s = arg('--warmup', 2);
  const stack = await startStack({ instances: 2, env: { LOG_LEVEL: 'info' } });
  const agent = new Agent({ connections: 64 });
  try {
    const started = Date.now();
    // Once a second, the histogram so far.
    const snapshots: Hist[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await new Promise((r) => setTimeout(r, 1000));
        snapshots.push(mergeHistograms(await readMetrics(stack.instances.map((i) => i.url)), VISIBILITY));
      }
    })();
    const sent = await sendPayments(
      stack.instances.map((i) => i.url),
      agent,
      started,
      rate,
      duration_s,
    );
    await new Promise((r) => setTimeout(r, 1000));
    sampling = false;
    await sampler;
    const texts = await readMetrics(stack.instances.map((i) => i.url));
    const merged = mergeHistograms(texts, VISIBILITY);
    const warm = snapshots[Math.min(warmup_s, snapshots.length) - 1];
    const steady = warm ? subtract(merged, warm) : merged;
    const late_by_second = [...snapshots, merged].map((h, i, all) => over(h, 20) - (i > 0 ? over(all[i - 1], 20) : 0));
    // The COPY round trip alone: a slow COPY and a late worker (busy or descheduled) look the
    // same in the visibility histogram; this one sees only the first.
    const flush = mergeHistograms(texts, 'rinha_writer_flush_ms');
    const total = merged.cumulative[merged.cumulative.length - 1];
    console.log(
      JSON.stringify({
        rate,
        duration_s,
        sent,
        rows: total,
        visibility_ms: {
          share_le_20: share(merged, 20),
          p50_le: quantile(merged, 0.5),
          p90_le: quantile(merged, 0.9),
          p99_le: quantile(merged, 0.99),
          p999_le: quantile(merged, 0.999),
        },
        after_warmup: {
          warmup_s,
          rows: total - (warm ? warm.cumulative[warm.cumulative.length - 1] : 0),
          share_le_20: share(steady, 20),
          p50_le: quantile(steady, 0.5),
          p99_le: quantile(steady, 0.99),
          p999_le: quantile(steady, 0.999),
        },
        copy_round_trip_ms: {
          batches: flush.cumulative[flush.cumulative.length - 1],
          p50_le: quantile(flush, 0.5),
          p99_le: quantile(flush, 0.99),
        },
        rows_over_20ms_by_second: late_by_second,
        buckets: Object.fromEntries(merged.le.map((le, i) => [String(le), merged.cumulative[i]])),
      }),
    );
  } finally {
    await agent.close();
    await stack.stop();
  }
}

// POSTs `rate` payments a second, alternating between the instances, until `duration_s` after
// `started`; resolves with the count once every answer is in.
async function sendPayments(urls: string[], agent: Agent, started: number, rate: number, duration_s: number): Promise<number> {
  let sent = 0;
  const inflight = new Set<Promise<void>>();
  while (Date.now() - started < duration_s * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    while (sent < due) {
      const base = urls[sent % 2];
      const p = request(`${base}/payments`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ correlationId: crypto.randomUUID(), amount: 20.05 }),
      })
        .then((r) => r.body.dump())
        .then(
          () => undefined,
          () => undefined,
        );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      sent++;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(inflight);
  return sent;
}

function readMetrics(urls: string[]): Promise<string[]> {
  return Promise.all(urls.map(async (url) => (await request(`${url}/metrics`)).body.text()));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
