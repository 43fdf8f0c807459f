// A small admin client for the simulator (and the real processor): what tests and benches need.

import { request } from 'undici';
import type { FaultMode } from './server.js';

export interface SimSummary {
  totalAmount: number;
  totalRequests: number;
  totalFee: number;
  feePerTransaction: number;
}

export interface ConfigChange<T> {
  config: string;
  was: T;
  is: T;
}

export class SimAdmin {
  constructor(
    readonly base_url: string,
    public token = '123',
  ) {}

  private async call<T>(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await request(this.base_url + path, {
      method,
      headers: { 'x-rinha-token': this.token, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${method} ${path} -> ${res.statusCode} ${text}`);
    return (text.length > 0 ? JSON.parse(text) : undefined) as T;
  }

  summary(from?: string, to?: string): Promise<SimSummary> {
    const query = new URLSearchParams();
    if (from !== undefined) query.set('from', from);
    if (to !== undefined) query.set('to', to);
    const qs = query.toString();
    return this.call('GET', '/admin/payments-summary' + (qs ? '?' + qs : ''));
  }

  setDelay(delay_ms: number): Promise<ConfigChange<number>> {
    return this.call('PUT', '/admin/configurations/delay', { delay: delay_ms });
  }

  setFailure(failure: boolean): Promise<ConfigChange<boolean>> {
    return this.call('PUT', '/admin/configurations/failure', { failure });
  }

  setFault(fault: FaultMode): Promise<ConfigChange<FaultMode>> {
    return this.call('PUT', '/admin/configurations/fault', { fault });
  }

  async setToken(token: string): Promise<void> {
    await this.call('PUT', '/admin/configurations/token', { token });
    this.token = token;
  }

  purge(): Promise<{ message: string }> {
    return this.call('POST', '/admin/purge-payments');
  }

  stats(): Promise<{ stored: number; running: number; queued: number; rejected429: number; held: number; health_held: number }> {
    return this.call('GET', '/admin/stats');
  }
}
