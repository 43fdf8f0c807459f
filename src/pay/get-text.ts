// A small GET over node:http for the front thread's occasional calls to the processors (health
// polls, lookups of a dead instance's payments): status and at most 4 KiB of body, or an error.
// node:http, not undici: undici's weight in memory is better spent in the workers.
import { request } from 'node:http';

const BODY_MAX_CHARS = 4096;

export function getText(url: string, timeout_ms: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeout_ms }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (text.length < BODY_MAX_CHARS) text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
