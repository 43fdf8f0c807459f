// One lazily opened Postgres connection that forgets itself when it breaks: the next get()
// opens a fresh one. For the writers that own a connection each (COPY writer, claims).
import pg from 'pg';

export class LazyConnection {
  private client: pg.Client | null = null;

  constructor(
    private readonly url: string,
    private readonly application_name: string,
    private readonly onLost: (err: Error) => void = () => {},
  ) {}

  async get(): Promise<pg.Client> {
    if (this.client !== null) return this.client;
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
