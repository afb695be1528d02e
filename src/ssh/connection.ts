/**
 * One SSH connection to a cluster's login node, on ssh2: exec with a timeout, SFTP put
 * and get, host-key verification against known_hosts, and reconnect on the next call
 * after the link drops. The only module (with pool.ts) that imports ssh2.
 */
import { readFile } from 'node:fs/promises';
import { Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { CryoError, ErrorType } from '../errors.js';
import { hostLookupName, parseKnownHosts, verifyHostKey } from './known-hosts.js';

/** Where and how to reach a cluster. Secrets stay in files; only paths travel here. */
export interface SshTarget {
  /** Cluster name, for error messages. */
  readonly cluster: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly keyFile: string;
  readonly knownHostsFile: string;
  readonly connectTimeoutMs: number;
  /**
   * Most exec channels open at once on the connection. OpenSSH's MaxSessions defaults to
   * 10 per connection (one more is the SFTP channel); past it, opening a channel fails.
   */
  readonly maxChannels?: number;
}

/** What a remote command left behind. */
export interface ExecResult {
  /** Exit code, or null when the command died by a signal. */
  readonly exitCode: number | null;
  readonly signal?: string;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options for one remote command. */
export interface ExecOptions {
  readonly timeoutMs: number;
  /** Bytes written to the command's stdin, then EOF. */
  readonly stdin?: string;
}

/** The last lines of a text, for error messages. */
export function tail(text: string, lines = 5): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** A lazily (re)connecting SSH client for one target. */
export class SshConnection {
  #client: Client | undefined;
  #connecting: Promise<Client> | undefined;
  #sftp: Promise<SFTPWrapper> | undefined;
  #closed = false;
  /** Number of successful handshakes; >1 means the connection was re-established. */
  connects = 0;

  constructor(readonly target: SshTarget) {}

  /** The connected client, connecting first when there is none. */
  async client(): Promise<Client> {
    if (this.#closed)
      throw new CryoError(ErrorType.SshUnavailable, `SSH connection to cluster "${this.target.cluster}" was closed`);
    if (this.#client) return this.#client;
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<Client> {
    const t = this.target;
    const where = `cluster "${t.cluster}" (${t.user}@${hostLookupName(t.host, t.port)})`;
    const [privateKey, knownHosts] = await Promise.all([
      readFile(t.keyFile).catch((e: Error) => {
        throw new CryoError(ErrorType.ConfigInvalid, `${where}: cannot read SSH key file ${t.keyFile}: ${e.message}`);
      }),
      readFile(t.knownHostsFile, 'utf8').catch((e: Error) => {
        throw new CryoError(
          ErrorType.ConfigInvalid,
          `${where}: cannot read known_hosts file ${t.knownHostsFile}: ${e.message}`,
        );
      }),
    ]);
    const entries = parseKnownHosts(knownHosts);
    let rejection: string | undefined;
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (err: Error & { level?: string }) => {
        if (rejection) reject(new CryoError(ErrorType.HostKeyRejected, `${where}: ${rejection}`));
        else
          reject(
            new CryoError(ErrorType.SshUnavailable, `${where}: ${err.level ?? 'connection'} error: ${err.message}`),
          );
      });
      client.connect({
        host: t.host,
        port: t.port,
        username: t.user,
        privateKey,
        readyTimeout: t.connectTimeoutMs,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        hostVerifier: (key: Buffer) => {
          const verdict = verifyHostKey(entries, t.host, t.port, key, t.knownHostsFile);
          if (!verdict.ok) rejection = verdict.message;
          return verdict.ok;
        },
      });
    });
    // Nagle's algorithm adds ~40 ms to every small exec round trip.
    (client as unknown as { setNoDelay(noDelay: boolean): void }).setNoDelay(true);
    // Every in-flight exec listens for 'close', and all of a worker's activities share this
    // connection: more than 10 at once is normal, not a listener leak.
    client.setMaxListeners(0);
    client.on('error', () => this.#drop(client));
    client.on('close', () => this.#drop(client));
    this.#client = client;
    this.connects += 1;
    return client;
  }

  #drop(client: Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#sftp = undefined;
  }

  /** Runs a shell command line on the login node. Never retries: commands may not be idempotent. */
  async exec(command: string, options: ExecOptions): Promise<ExecResult> {
    await this.#acquireChannel();
    try {
      return await this.#exec(command, options);
    } finally {
      this.#releaseChannel();
    }
  }

  #openChannels = 0;
  readonly #channelWaiters: Array<() => void> = [];

  async #acquireChannel(): Promise<void> {
    if (this.#openChannels < (this.target.maxChannels ?? 8)) {
      this.#openChannels += 1;
      return;
    }
    await new Promise<void>((resolve) => this.#channelWaiters.push(resolve));
  }

  #releaseChannel(): void {
    const next = this.#channelWaiters.shift();
    if (next)
      next(); // the slot passes straight to the next waiter
    else this.#openChannels -= 1;
  }

  async #exec(command: string, options: ExecOptions): Promise<ExecResult> {
    const client = await this.client();
    const where = `cluster "${this.target.cluster}"`;
    return new Promise<ExecResult>((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let stdout = '';
      let stderr = '';
      let exitCode: number | null = null;
      let signal: string | undefined;
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.removeListener('close', onClose);
        if (err) reject(err);
        else resolve({ exitCode, signal, stdout, stderr });
      };
      const onClose = () =>
        finish(
          new CryoError(
            ErrorType.SshUnavailable,
            `${where}: connection dropped while running: ${command.slice(0, 200)}`,
          ),
        );
      client.once('close', onClose);
      const timer = setTimeout(() => {
        channel?.close();
        finish(
          new CryoError(
            ErrorType.CommandTimeout,
            `${where}: command ran past ${options.timeoutMs} ms: ${command.slice(0, 200)}`,
          ),
        );
      }, options.timeoutMs);
      try {
        client.exec(command, (err, ch) => {
          if (err) return finish(new CryoError(ErrorType.SshUnavailable, `${where}: exec failed: ${err.message}`));
          channel = ch;
          ch.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
          ch.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
          ch.on('exit', (code: number | null, sig?: string) => {
            exitCode = code ?? null;
            signal = sig ?? undefined;
          });
          ch.on('close', () => finish());
          if (options.stdin !== undefined) ch.end(options.stdin);
          else ch.end();
        });
      } catch (err) {
        // ssh2 throws "Not connected" when the socket is gone but 'close' has not fired yet:
        // nothing was sent, so forget this client and let the next call reconnect.
        this.#drop(client);
        finish(new CryoError(ErrorType.SshUnavailable, `${where}: exec failed: ${(err as Error).message}`));
      }
    });
  }

  async #sftpSession(): Promise<SFTPWrapper> {
    const client = await this.client();
    if (this.#sftp) return this.#sftp;
    const opening = new Promise<SFTPWrapper>((resolve, reject) => {
      const fail = (err: Error) =>
        reject(
          new CryoError(ErrorType.SshUnavailable, `cluster "${this.target.cluster}": SFTP failed: ${err.message}`),
        );
      try {
        client.sftp((err, sftp) => (err ? fail(err) : resolve(sftp)));
      } catch (err) {
        // "Not connected" (see exec): drop the dead client so the next call reconnects.
        this.#drop(client);
        fail(err as Error);
      }
    });
    this.#sftp = opening;
    // A failed open is not cached: the next call tries again.
    opening.catch(() => {
      if (this.#sftp === opening) this.#sftp = undefined;
    });
    return opening;
  }

  /** Copies a local file to the login node. */
  async put(localPath: string, remotePath: string): Promise<void> {
    const sftp = await this.#sftpSession();
    await new Promise<void>((resolve, reject) =>
      sftp.fastPut(localPath, remotePath, (err) => (err ? reject(this.#sftpError('put', remotePath, err)) : resolve())),
    );
  }

  /** Copies a file from the login node to a local path. */
  async get(remotePath: string, localPath: string): Promise<void> {
    const sftp = await this.#sftpSession();
    await new Promise<void>((resolve, reject) =>
      sftp.fastGet(remotePath, localPath, (err) => (err ? reject(this.#sftpError('get', remotePath, err)) : resolve())),
    );
  }

  /** Reads a remote file into memory; a missing file is OutputMissing. */
  async readFile(remotePath: string): Promise<Buffer> {
    const sftp = await this.#sftpSession();
    return new Promise<Buffer>((resolve, reject) =>
      sftp.readFile(remotePath, (err: Error | undefined, data: Buffer) =>
        err ? reject(this.#sftpError('read', remotePath, err)) : resolve(data),
      ),
    );
  }

  /**
   * The first `bytes` bytes of a remote file (fewer if it is shorter) and its size, without
   * reading the rest: enough to check an MRC header of a multi-gigabyte stack.
   */
  async readHead(remotePath: string, bytes: number): Promise<{ head: Buffer; size: number }> {
    const reader = await this.openReader(remotePath);
    try {
      return { head: await reader.read(0, bytes), size: reader.size };
    } finally {
      reader.close();
    }
  }

  /**
   * A remote file opened for reads at any offset (one SFTP handle until `close`): its size,
   * and `read(offset, length)`, which returns fewer bytes only at the end of the file.
   */
  async openReader(
    remotePath: string,
  ): Promise<{ size: number; read(offset: number, length: number): Promise<Buffer>; close(): void }> {
    const sftp = await this.#sftpSession();
    const handle = await new Promise<Buffer>((resolve, reject) =>
      sftp.open(remotePath, 'r', (err, h) => (err ? reject(this.#sftpError('open', remotePath, err)) : resolve(h))),
    );
    const size = await new Promise<number>((resolve, reject) =>
      sftp.fstat(handle, (err, stats) =>
        err ? reject(this.#sftpError('stat', remotePath, err)) : resolve(stats.size),
      ),
    ).catch((err: Error) => {
      sftp.close(handle, () => {});
      throw err;
    });
    const read = async (offset: number, length: number): Promise<Buffer> => {
      const buf = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      let filled = 0;
      while (filled < buf.length) {
        const n = await new Promise<number>((resolve, reject) =>
          sftp.read(handle, buf, filled, buf.length - filled, offset + filled, (err, got) =>
            err ? reject(this.#sftpError('read', remotePath, err)) : resolve(got),
          ),
        );
        if (n === 0) break;
        filled += n;
      }
      return buf.subarray(0, filled);
    };
    return { size, read, close: () => sftp.close(handle, () => {}) };
  }

  /** Names in a remote folder (not recursive); a missing folder is OutputMissing. */
  async listDir(remotePath: string): Promise<string[]> {
    const sftp = await this.#sftpSession();
    return new Promise<string[]>((resolve, reject) =>
      sftp.readdir(remotePath, (err, list) =>
        err ? reject(this.#sftpError('readdir', remotePath, err)) : resolve(list.map((e) => e.filename)),
      ),
    );
  }

  /** Writes a remote file (whole), creating or replacing it. */
  async writeFile(remotePath: string, content: string | Buffer, mode = 0o644): Promise<void> {
    const sftp = await this.#sftpSession();
    await new Promise<void>((resolve, reject) =>
      sftp.writeFile(remotePath, content, { mode }, (err) =>
        err ? reject(this.#sftpError('write', remotePath, err)) : resolve(),
      ),
    );
  }

  #sftpError(op: string, remotePath: string, err: Error & { code?: number | string }): CryoError {
    const where = `cluster "${this.target.cluster}"`;
    // SFTP status 2 is NO_SUCH_FILE.
    if (err.code === 2 || err.code === 'ENOENT') {
      return new CryoError(ErrorType.OutputMissing, `${where}: ${remotePath} does not exist (sftp ${op})`);
    }
    return new CryoError(ErrorType.SshUnavailable, `${where}: sftp ${op} ${remotePath} failed: ${err.message}`);
  }

  /** Drops the current link without closing the connection for good (next call reconnects). */
  disconnect(): void {
    const client = this.#client;
    if (!client) return;
    // Forget it now, not on its 'close' event: a call made before that event would
    // otherwise reach the ending client and fail with "Not connected".
    this.#drop(client);
    client.end();
  }

  /** Closes for good. */
  close(): void {
    this.#closed = true;
    this.#client?.end();
    this.#client = undefined;
    this.#sftp = undefined;
  }
}
