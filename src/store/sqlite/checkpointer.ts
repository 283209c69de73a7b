// WAL checkpoints on a worker thread, for a long-running process (`emmctl server`).
// better-sqlite3 is synchronous, so SQLite's automatic checkpoint (every 1,000 WAL pages, run by
// the COMMIT that crosses the mark) copies pages back into the database and fsyncs both files on
// the event loop: measured on the check-in's write, 141 µs per check-in with it against 58 µs
// without (bench figures in docs/deploy.md). Here the serving connection never checkpoints
// (wal_autocheckpoint = 0); a second connection on a worker thread runs PASSIVE checkpoints, which
// take no lock a writer or reader waits for, so the fsyncs happen off the event loop. Once a
// checkpoint has copied every frame and no reader still needs the old ones, the next write starts
// the WAL from its beginning again. Under a steady stream of writes that moment never comes (each
// passive checkpoint ends with the frames written while it ran still to copy), so past
// RESTART_FRAMES the thread runs a RESTART checkpoint: it waits for the write lock, copies the
// little the passive ones left, and makes the next write start the WAL afresh. Meanwhile the
// serving connection's writes meet a busy lock and wait asynchronously (engine.ts), so even then
// the event loop goes on serving. The WAL stays bounded near RESTART_FRAMES pages.
// Should the worker fail, the serving connection goes back to checkpointing itself: a lost
// worker costs speed, never an unbounded WAL.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Pages SQLite's own automatic checkpoint waits for; used again when the worker is gone. */
export const AUTO_CHECKPOINT_PAGES = 1000;
/** Write units between two checkpoints (a check-in writes a few pages, so about SQLite's 1,000-page mark). */
const WRITES_PER_CHECKPOINT = 100;
/** A store written to less often is still checkpointed this long after its last write. */
const IDLE_CHECKPOINT_MS = 1_000;
/** WAL frames (pages) past which the next checkpoint resets the WAL: 16 MiB of 4 KiB pages. */
const RESTART_FRAMES = 4000;
/** How long a RESTART checkpoint waits for the serving connection to be between writes. */
const RESTART_WAIT_MS = 2_000;

/** What a checkpoint reported: frames in the WAL, and how many of them are now in the database. */
export interface CheckpointResult {
  mode: 'PASSIVE' | 'RESTART';
  /** 1 when the checkpoint could not finish (RESTART: the lock was not had in time). */
  busy: number;
  log: number;
  checkpointed: number;
}

// CommonJS, run with eval: the bundle has no file of its own to start a worker from. The driver
// is required by its resolved path, so it loads whatever the working directory is.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = ' + workerData.restartWaitMs);
parentPort.on('message', (mode) => {
  if (mode === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [r] = db.pragma('wal_checkpoint(' + (mode === 'RESTART' ? 'RESTART' : 'PASSIVE') + ')');
    parentPort.postMessage({ mode, busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message) });
  }
});
`;

interface Waiter {
  resolve(r: CheckpointResult): void;
  reject(e: Error): void;
}

export interface CheckpointerOptions {
  /** Called once if the worker fails, after which the caller checkpoints on its own connection again. */
  onFailure: (reason: string) => void;
}

/** Runs checkpoints of the database at `path` on a worker thread; see the file comment. */
export class BackgroundCheckpointer {
  private readonly worker: Worker;
  private writes = 0;
  private inFlight = false;
  /** The last checkpoint left the WAL past RESTART_FRAMES: the next one resets it. */
  private restart = false;
  private failed = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** Callers of checkpointNow: waiting for the one in flight, and for the next to start. */
  private current: Waiter[] = [];
  private next: Waiter[] = [];
  private readonly exited: Promise<void>;
  /** Checkpoints completed, and how many of them reset the WAL; for tests and diagnostics. */
  completed = 0;
  restarts = 0;
  last: CheckpointResult | undefined;

  constructor(path: string, private readonly options: CheckpointerOptions) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, restartWaitMs: RESTART_WAIT_MS } });
    // It must never keep a process alive that is otherwise done (a test that forgot close()).
    this.worker.unref();
    this.worker.on('message', (m: CheckpointResult | { error: string }) => {
      this.inFlight = false;
      if ('error' in m) {
        // A busy or locked checkpoint is tried again at the next mark; anything else ends the worker.
        if (!/busy|locked/i.test(m.error)) this.fail(`checkpoint failed: ${m.error}`);
        else this.next.unshift(...this.current.splice(0));
        return;
      }
      this.completed++;
      if (m.mode === 'RESTART' && m.busy === 0) this.restarts++;
      this.last = m;
      this.restart = m.log >= RESTART_FRAMES && !(m.mode === 'RESTART' && m.busy === 0);
      for (const w of this.current.splice(0)) w.resolve(m);
      if (this.restart || this.next.length) this.request(true);
      else if (this.writes >= WRITES_PER_CHECKPOINT) this.request();
    });
    this.worker.on('error', (error) => this.fail(error.message));
    this.exited = new Promise((resolve) => this.worker.once('exit', (code) => {
      if (!this.closed) this.fail(`the checkpoint thread exited (code ${code})`);
      resolve();
    }));
  }

  /** Counts a committed write unit; a checkpoint is asked for every WRITES_PER_CHECKPOINT, and after a quiet second. */
  wrote(): void {
    if (this.failed || this.closed) return;
    this.writes++;
    if (this.writes >= WRITES_PER_CHECKPOINT) this.request();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.writes > 0) this.request();
      }, IDLE_CHECKPOINT_MS);
      this.timer.unref();
    }
  }

  /** Resolves after the next checkpoint that starts from now; for tests and for close. */
  checkpointNow(): Promise<CheckpointResult> {
    if (this.failed || this.closed) return Promise.reject(new Error('the checkpoint thread is not running'));
    // One in flight may have started before the caller's last write: the caller waits for the next.
    const done = new Promise<CheckpointResult>((resolve, reject) => this.next.push({ resolve, reject }));
    this.request(true);
    return done;
  }

  get running(): boolean {
    return !this.failed && !this.closed;
  }

  private request(force = false): void {
    if (this.inFlight || this.failed || this.closed || (!force && this.writes === 0)) return;
    this.inFlight = true;
    this.writes = 0;
    this.current.push(...this.next.splice(0));
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.worker.postMessage(this.restart ? 'RESTART' : 'PASSIVE');
  }

  private fail(reason: string): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of [...this.current.splice(0), ...this.next.splice(0)]) w.reject(new Error(reason));
    void this.worker.terminate();
    this.options.onFailure(reason);
  }

  /** Stops the thread (its connection closed) before the serving connection closes. */
  async close(): Promise<void> {
    if (this.closed) return this.exited;
    const wasRunning = !this.failed;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    // Awaiting an unref'd thread keeps nothing alive: without ref() a process with nothing else
    // left to do would end here, in the middle of its caller's shutdown, with exit code 0.
    this.worker.ref();
    if (wasRunning) this.worker.postMessage('close');
    await this.exited;
  }

  /** For exit paths: the thread goes with the process. */
  closeNow(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    void this.worker.terminate();
  }

  /** Test hook: ends the thread as a crash would. */
  async killForTest(): Promise<void> {
    await this.worker.terminate();
  }
}
