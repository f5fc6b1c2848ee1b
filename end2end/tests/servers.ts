// Parts the browser tests control themselves: a Confab server of their own (so a test can kill
// it with SIGKILL and start it again on the same database), a TCP proxy whose connections a
// test can cut (Playwright's setOffline does not cut WebSockets, microsoft/playwright#4910), and
// a cluster: several nodes on one database (PostgreSQL when the run has one) linked by Redis,
// behind nginx with the repo's config.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { RELAXED_LIMITS } from './limits';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

/** A free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function waitUntilServing(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The release `confab` binary on its own port and database file. */
export class OwnServer {
  readonly port: number;
  readonly db: string;
  private readonly env: Record<string, string>;
  private child?: ChildProcess;

  private constructor(port: number, db: string, env: Record<string, string>) {
    this.port = port;
    this.db = db;
    this.env = env;
  }

  /** A new server on a new database, or on `opts.db`, with `opts.env` added to its environment. */
  static async start(opts: { db?: string; env?: Record<string, string> } = {}): Promise<OwnServer> {
    const db = opts.db ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'confab-own-')), 'confab.db');
    const server = new OwnServer(await freePort(), db, opts.env ?? {});
    await server.restart();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) on the same port and database, and waits until it serves. */
  async restart(): Promise<void> {
    this.child = spawn(path.join(root, 'target/release/confab'), [], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: this.db,
        CONFAB_ADDR: `127.0.0.1:${this.port}`,
        LEPTOS_SITE_ROOT: 'target/site',
        RUST_LOG: 'warn',
        CONFAB_PUBLIC_URL: 'https://confab.test',
        ...RELAXED_LIMITS,
        ...this.env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitUntilServing(`${this.url}/`);
  }

  /** SIGKILL: no goodbye to any socket, no flush beyond what was already committed. */
  async kill(): Promise<void> {
    const child = this.child;
    // A process killed by a signal has a signalCode and no exitCode.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

/** A TCP proxy to `target` on a loopback port of its own, which a test can cut and restore. */
export class CuttableProxy {
  readonly port: number;
  private readonly target: number;
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(port: number, target: number) {
    this.port = port;
    this.target = target;
  }

  static async start(target: number): Promise<CuttableProxy> {
    const proxy = new CuttableProxy(await freePort(), target);
    await proxy.restore();
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Accepts connections again. */
  async restore(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Drops every open connection (the WebSocket included) and refuses new ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise((r) => server.close(r));
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}

/** Confab nodes on one database, linked by Redis (CONFAB_TEST_REDIS_URL, default the machine's
 * on 6379) under a namespace of their own, behind nginx running deploy/nginx/confab-cluster.conf
 * with only its ports changed. */
/** The database a cluster's nodes share: on PostgreSQL (cluster mode's store) a new schema of
 * the run's test database when `./dev.sh test` gave one, otherwise a SQLite file in `dir`. */
function clusterDatabase(dir: string): string {
  const base = process.env.CONFAB_TEST_POSTGRES_URL;
  if (!base) return path.join(dir, 'confab.db');
  const schema = `e2e_${path.basename(dir).replace(/[^a-zA-Z0-9]/g, '_').toLowerCase()}`;
  execFileSync('psql', ['-q', base, '-c', `CREATE SCHEMA ${schema}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  return `${base}${base.includes('?') ? '&' : '?'}options=-c%20search_path%3D${schema}`;
}

export class Cluster {
  readonly nodes: OwnServer[];
  readonly proxyPort: number;
  private readonly nginx: ChildProcess;

  private constructor(nodes: OwnServer[], proxyPort: number, nginx: ChildProcess) {
    this.nodes = nodes;
    this.proxyPort = proxyPort;
    this.nginx = nginx;
  }

  static async start(count: number): Promise<Cluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confab-cluster-'));
    const env = {
      CONFAB_REDIS_URL: process.env.CONFAB_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      CONFAB_REDIS_NAMESPACE: `confab-e2e-${path.basename(dir)}`,
      // The one folder every node keeps files in, as an NFS share would be.
      CONFAB_FILES_DIR: path.join(dir, 'files'),
    };
    const db = clusterDatabase(dir);
    const nodes: OwnServer[] = [];
    // One at a time: the first creates the database the others open.
    for (let i = 0; i < count; i++) nodes.push(await OwnServer.start({ db, env }));

    const proxyPort = await freePort();
    const shipped = fs.readFileSync(path.join(root, 'deploy/nginx/confab-cluster.conf'), 'utf8');
    const upstream = nodes.map((n) => `server 127.0.0.1:${n.port};`).join('\n        ');
    const conf = shipped
      .replace(/(upstream confab \{[^}]*?)(server 127\.0\.0\.1:\d+;\s*)+/, `$1${upstream}\n        `)
      .replace('listen 8080;', `listen 127.0.0.1:${proxyPort};`)
      .replace('worker_processes auto;', 'worker_processes 1;');
    if (!conf.includes(upstream) || !conf.includes(`listen 127.0.0.1:${proxyPort};`)) {
      throw new Error('deploy/nginx/confab-cluster.conf no longer has the upstream and listen lines this test rewrites');
    }
    const confPath = path.join(dir, 'nginx.conf');
    fs.writeFileSync(confPath, conf);
    const nginx = spawn(
      fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx',
      ['-p', dir, '-c', confPath, '-g', `daemon off; pid ${path.join(dir, 'nginx.pid')};`],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const cluster = new Cluster(nodes, proxyPort, nginx);
    await waitUntilServing(`${cluster.proxyUrl}/`);
    return cluster;
  }

  /** Node `i` itself, for a browser pinned to it. */
  nodeUrl(i: number): string {
    return this.nodes[i].url;
  }

  /** Through nginx, to any node. */
  get proxyUrl(): string {
    return `http://127.0.0.1:${this.proxyPort}`;
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.nginx.once('exit', r));
    this.nginx.kill('SIGTERM');
    await exited;
    for (const node of this.nodes) await node.kill();
  }
}
