// One lazily opened Postgres connection that forgets itself when it breaks: the next get()
// opens a fresh one. For the writers that own a connection each (COPY writer, claims).
import pg from 'pg';

export class LazyConnection {
  private client: pg.Client | null = null;
  private opening: Promise<pg.Client> | null = null; // one connect at a time

  constructor(
    private readonly url: string,
    private readonly application_name: string,
    private readonly onLost: (err: Error) => void = () => {},
  ) {}

  get(): Promise<pg.Client> {
    if (this.client !== null) return Promise.resolve(this.client);
    this.opening ??= this.open().finally(() => (this.opening = null));
    return this.opening;
  }

  // Opens the connection now, so the first batch does not wait for connect and authentication,
  // and runs `prime` on it (the batch's own statement, empty) so the backend has loaded its
  // catalog caches and plan before the first rows arrive. Failures are left for get() to retry.
  warm(prime: (client: pg.Client) => Promise<unknown> = async () => {}): void {
    this.get()
      .then(prime)
      .catch(() => {});
  }

  private async open(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url, application_name: this.application_name });
    client.on('error', (err) => {
      if (this.client === client) this.client = null;
      this.onLost(err);
    });
    await client.connect();
    this.client = client;
    return client;
  }

  // Drops the current connection (after an error: its state is unknown).
  async reset(): Promise<void> {
    const stale = this.client;
    this.client = null;
    await stale?.end().catch(() => {});
  }
}
