// Each instance's own /metrics address. Instances share the service port (SO_REUSEPORT, or a
// load balancer), so a scrape of it lands on one of them at random; a scraper that wants every
// instance scrapes METRICS_PORT + INSTANCE_INDEX of each. Served by the front thread's event
// loop (a second uWS app): rendering reads the shared counters and blocks no one.
import uWS from 'uWebSockets.js';

const EXCLUSIVE_PORT = 1; // uWS.ListenOptions.LIBUS_LISTEN_EXCLUSIVE_PORT (a const enum in its types)
const INSTANCE_LABEL = 'rinha_instance'; // not "instance": Prometheus sets that one itself

// The exposition with `rinha_instance="<index>"` added to every sample, so series from several
// instances stay apart once stored together.
function labelInstance(text: string, index: number): string {
  const label = `${INSTANCE_LABEL}="${index}"`;
  // A sample line starts with its name ('#' lines do not match); its labels, if any, follow.
  return text.replace(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{)?/gm, (_whole, name: string, brace: string | undefined) =>
    brace === undefined ? `${name}{${label}}` : `${name}{${label},`,
  );
}

export interface MetricsPort {
  readonly url: string;
  close(): void;
}

// Listens on `port`; resolves null when the port cannot be bound (the caller warns: metrics stay
// on the service port).
export function startMetricsPort(port: number, index: number, render: () => string): Promise<MetricsPort | null> {
  const app = uWS.App();
  app.get('/metrics', (res) => {
    const body = labelInstance(render(), index);
    res.cork(() => {
      res.writeStatus('200 OK').writeHeader('Content-Type', 'text/plain; version=0.0.4').end(body);
    });
  });
  app.any('/*', (res) => {
    res.cork(() => {
      res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json').end('{"error":"not found; use /metrics"}');
    });
  });
  return new Promise((resolve) => {
    // Exclusive: uWS otherwise sets SO_REUSEPORT, and two instances given one index would share
    // the port silently.
    app.listen(port, EXCLUSIVE_PORT, (socket) => {
      if (!socket) {
        resolve(null);
        return;
      }
      resolve({
        url: `http://0.0.0.0:${port}/metrics`,
        close() {
          uWS.us_listen_socket_close(socket);
        },
      });
    });
  });
}
