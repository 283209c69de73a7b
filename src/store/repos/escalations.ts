// Escalation steps and episodes. A non-compliance episode is identified by its start
// (devices.noncompliant_since), set only when none is open, so two writers evaluating one device
// agree on the episode; a step fires once per (device, episode, policy, offset, action): the row
// is the claim, inserted ON CONFLICT DO NOTHING, and only the writer whose insert took it queues
// the step's command and writes its audit.
import type { Sql } from '../engine.js';
import { INVALIDATE } from './compliance.js';

export interface FiredRow {
  device_id: string;
  episode_start: string;
  policy: string;
  after_seconds: number;
  action: string;
  after: string;
  fired_at: string;
}

export interface StepClaim {
  deviceId: string;
  episodeStart: string;
  policy: string;
  afterSeconds: number;
  action: string;
  after: string;
  firedAt: string;
}

/** True for the one caller that claimed the step; false when it had fired already (any writer). */
export async function claimStep(sql: Sql, c: StepClaim): Promise<boolean> {
  const won = await sql.get(
    `INSERT INTO escalations (device_id, episode_start, policy, after_seconds, action, after, fired_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (device_id, episode_start, policy, after_seconds, action) DO NOTHING RETURNING device_id`,
    [c.deviceId, c.episodeStart, c.policy, c.afterSeconds, c.action, c.after, c.firedAt]);
  return won !== undefined;
}

/** Opens an episode at `at` unless one is open; returns the open episode's start (this one, or the one another writer opened). */
export async function openEpisode(sql: Sql, deviceId: string, at: string): Promise<string | undefined> {
  // The episode start is an input of the stored evaluation (repos/compliance.ts).
  const opened = await sql.get<{ since: string }>(`UPDATE devices SET noncompliant_since = ?, ${INVALIDATE} WHERE id = ? AND noncompliant_since IS NULL RETURNING noncompliant_since AS since`, [at, deviceId]);
  if (opened) return opened.since;
  return (await sql.get<{ since: string | null }>('SELECT noncompliant_since AS since FROM devices WHERE id = ?', [deviceId]))?.since ?? undefined;
}

/** Ends the device's episode (back to compliance, wiped, retired, enrolled again) and forgets its fired steps. */
export async function endEpisode(sql: Sql, deviceId: string): Promise<void> {
  await sql.run(`UPDATE devices SET noncompliant_since = NULL, ${INVALIDATE} WHERE id = ? AND noncompliant_since IS NOT NULL`, [deviceId]);
  await forgetSteps(sql, deviceId);
}

export async function forgetSteps(sql: Sql, deviceId: string): Promise<void> {
  await sql.run('DELETE FROM escalations WHERE device_id = ?', [deviceId]);
}

/** The fired steps of these devices, every episode; one statement for a whole page of devices. */
export async function firedRows(sql: Sql, deviceIds: readonly string[]): Promise<FiredRow[]> {
  if (deviceIds.length === 0) return [];
  const out: FiredRow[] = [];
  // Bounded lists of `?` (portable, and within both engines' parameter limits).
  for (let i = 0; i < deviceIds.length; i += 500) {
    const ids = deviceIds.slice(i, i + 500);
    out.push(...await sql.all<FiredRow>(
      `SELECT device_id, episode_start, policy, after_seconds, action, after, fired_at FROM escalations WHERE device_id IN (${ids.map(() => '?').join(', ')})`, ids));
  }
  return out;
}

export async function firedInEpisode(sql: Sql, deviceId: string, since: string): Promise<Array<{ policy: string; after_seconds: number; action: string }>> {
  return sql.all('SELECT policy, after_seconds, action FROM escalations WHERE device_id = ? AND episode_start = ?', [deviceId, since]);
}
