// The local ledger: Intune's device actions answer 204 with no id, and it keeps no audit of who
// asked emmctl for what, so this machine keeps both, under the context's state dir (owner-only):
//   commands/<id>.json      one record per command emmctl sent (id, device, type, reason, status)
//   claims/<device>.<type>  made with O_EXCL before an action is sent: a unique key, so two
//                           emmctl runs (or a retry after a lost answer) never send it twice
//   requests/<key>.json     the result of an enqueue, by idempotency key
//   audit.jsonl             one line per change or command (appended whole, O_APPEND)
//   seal.key                the key that seals saved plans (never leaves this machine)
import { createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../atomic-file.js';
import { makeDirs } from '../../make-dirs.js';
import type { AuditRecord, CommandType, DeviceCommand } from '../../model/fleet.js';

export class Ledger {
  constructor(readonly dir: string) {}

  private ensure(sub?: string): string {
    const d = sub ? join(this.dir, sub) : this.dir;
    makeDirs(d, 0o700);
    return d;
  }

  sealKey(): Buffer {
    const path = join(this.ensure(), 'seal.key');
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, randomBytes(32).toString('hex'));
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  }

  seal(digest: string): string {
    return `hmac-sha256:${createHmac('sha256', this.sealKey()).update(digest).digest('hex')}`;
  }

  /** Claims (device, type) for `commandId`; returns the id already holding it when taken. */
  claim(deviceId: string, type: CommandType, commandId: string): { ok: true } | { ok: false; holder: string } {
    const path = join(this.ensure('claims'), `${safe(deviceId)}.${type}`);
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, commandId);
      } finally {
        closeSync(fd);
      }
      return { ok: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return { ok: false, holder: readFileSync(path, 'utf8').trim() };
    }
  }

  /**
   * Frees a claim whose command is final so the next lock or reboot can take it. The rename is
   * atomic: of two runs freeing the same claim, one wins and the other sees it gone.
   */
  release(deviceId: string, type: CommandType, holder: string): boolean {
    const path = join(this.ensure('claims'), `${safe(deviceId)}.${type}`);
    const aside = `${path}.done-${safe(holder)}-${randomBytes(4).toString('hex')}`;
    try {
      if (readFileSync(path, 'utf8').trim() !== holder) return false;
      renameSync(path, aside);
      unlinkSync(aside);
      return true;
    } catch {
      return false;
    }
  }

  saveCommand(c: DeviceCommand & { sentAt?: string }): void {
    writeFileAtomic(join(this.ensure('commands'), `${safe(c.id)}.json`), `${JSON.stringify(c)}\n`, { mode: 0o600 });
  }

  getCommand(id: string): (DeviceCommand & { sentAt?: string }) | undefined {
    const path = join(this.dir, 'commands', `${safe(id)}.json`);
    if (!existsSync(path)) return undefined;
    return JSON.parse(readFileSync(path, 'utf8')) as DeviceCommand;
  }

  listCommands(): Array<DeviceCommand & { sentAt?: string }> {
    const d = join(this.dir, 'commands');
    if (!existsSync(d)) return [];
    return readdirSync(d)
      .filter((n) => n.endsWith('.json'))
      .map((n) => JSON.parse(readFileSync(join(d, n), 'utf8')) as DeviceCommand)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  savedRequest<T>(key: string): T | undefined {
    const path = join(this.dir, 'requests', `${safe(key)}.json`);
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
  }

  saveRequest(key: string, value: unknown): void {
    writeFileAtomic(join(this.ensure('requests'), `${safe(key)}.json`), JSON.stringify(value), { mode: 0o600 });
  }

  audit(record: AuditRecord): void {
    appendFileSync(join(this.ensure(), 'audit.jsonl'), `${JSON.stringify(record)}\n`, { mode: 0o600 });
  }

  auditRecords(): AuditRecord[] {
    const path = join(this.dir, 'audit.jsonl');
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as AuditRecord];
        } catch {
          return [];
        }
      });
  }
}

/** File names from ids that come from Graph or users: nothing but a safe alphabet. */
function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}
