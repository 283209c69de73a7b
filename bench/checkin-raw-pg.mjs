// The raw-`pg` baseline of checkin-scale.bench.mjs: a child process (a core of its own, as a
// server replica has) that runs, straight on a node-postgres Pool with named prepared statements,
// the statements one agent check-in makes `emmctl server` issue (src/server/auth.ts's
// authenticateDeviceSession, then FleetService.checkIn), for every enrolled
// device of the database, CONCURRENCY at a time. No HTTP, no JSON bodies, no compliance
// evaluation: what is left is the database's share of a check-in.
//
// Per check-in, in order:
//   read   SELECT the device's columns a check-in uses (CHECK_IN_COLUMNS) by credential_hash,
//          with the resource generation and, for a device in an episode, its fired steps (one
//          statement, no transaction: it is the credential check and the check-in's read at once)
//   write  one WITH statement: UPDATE devices SET posture, …, the stored compliance evaluation
//          (same-valued here: the loop evaluates nothing) WHERE id, state and credential are as
//          read; expire and send the pending commands; return them (no transaction around it)
// Keep this list in step with FleetService.authenticateDeviceSession and checkIn (and
// src/store/repos/checkin.ts): the ratio then means "our layers cost this much", whatever the
// number of round trips.
// The loop sends each check-in's two statements on their own, as the straightforward client does.
// The server folds the reads, and the writes, that arrive while others are in flight into
// multi-device statements (src/store/batch.ts); the loop does not, so a ratio above 1 says that
// folding saves more database work than the server's own layers cost.
//
// Usage: DATABASE_URL=postgres://… node bench/checkin-raw-pg.mjs CONCURRENCY POOL_SIZE
// Prints one JSON line: { checkIns, seconds, checkInsPerSecond, cpuSeconds } (this process's CPU
// time over the timed loop).
import pg from 'pg';

const url = process.env.DATABASE_URL;
const concurrency = Number(process.argv[2] ?? 64);
const poolSize = Number(process.argv[3] ?? 10);
if (!url) throw new Error('DATABASE_URL is not set');

const pool = new pg.Pool({ connectionString: url, max: poolSize });
pool.on('error', () => {});

const q = {
  read: {
    name: 'raw_read',
    text: `SELECT d.id, d.name, d.serial, d.platform, d.ownership, d.owner, d.labels, d.state, d.profile, d.model, d.os_version,
      d.enrolled_at, d.last_check_in, d.noncompliant_since, d.credential_hash, d.released_until, d.compliance_status,
      (SELECT value FROM meta WHERE key = 'resource_generation') AS generation,
    CASE WHEN d.noncompliant_since IS NULL THEN NULL ELSE (SELECT json_agg(json_build_array(e.policy, e.after_seconds, e.action))::text
      FROM escalations e WHERE e.device_id = d.id AND e.episode_start = d.noncompliant_since) END AS fired
    FROM devices d WHERE d.credential_hash = $1 AND d.state IN ('enrolled', 'retired')`,
  },
  write: {
    name: 'raw_write',
    text: `WITH d AS (UPDATE devices SET posture = $1, model = coalesce($2, model), last_check_in = $3, applied_config_version = $4, updated_at = $5,
      compliance = $6, compliance_from = $7, compliance_until = $8,
      compliance_gen = CASE WHEN platform = $9 AND ownership = $10 AND owner IS NOT DISTINCT FROM $11 AND labels = $12 AND serial IS NOT DISTINCT FROM $13
        AND profile IS NOT DISTINCT FROM $14 AND noncompliant_since IS NOT DISTINCT FROM $15 AND compliance_status = $16 THEN $17 ELSE NULL END
      WHERE id = $18 AND state = $19 AND credential_hash = $20 RETURNING id),
    expired AS (UPDATE commands SET status = 'expired', updated_at = $21 WHERE device_id = $22 AND status IN ('queued', 'sent') AND expires_at <= $23 AND EXISTS (SELECT 1 FROM d) RETURNING id),
    sent AS (UPDATE commands SET status = 'sent', updated_at = $24 WHERE device_id = $25 AND status = 'queued' AND (expires_at IS NULL OR expires_at > $26) AND EXISTS (SELECT 1 FROM d)
      RETURNING seq, id, type, reason, created_at)
    SELECT n.written, p.seq, p.id, p.type, p.reason, p.created_at
    FROM (SELECT count(*) AS written FROM d) n LEFT JOIN (
      SELECT seq, id, type, reason, created_at FROM sent
      UNION ALL
      SELECT seq, id, type, reason, created_at FROM commands WHERE device_id = $27 AND status = 'sent' AND (expires_at IS NULL OR expires_at > $28) AND EXISTS (SELECT 1 FROM d)
    ) p ON TRUE ORDER BY p.seq`,
  },
};
async function checkIn(device) {
  const row = (await pool.query({ ...q.read, values: [device.credential_hash] })).rows[0];
  if (row?.id !== device.id) throw new Error(`device ${device.id} did not authenticate`);
  if (row.fired !== null) JSON.parse(row.fired);
  const at = new Date().toISOString();
  // The posture as the device sent it last time: the same OS, as in the usual check-in.
  const written = (await pool.query({ ...q.write, values: [row.posture, row.model, at, row.applied_config_version, at, row.compliance, row.compliance_from, row.compliance_until,
    row.platform, row.ownership, row.owner, row.labels, row.serial, row.profile, row.noncompliant_since, row.compliance_status, row.compliance_gen,
    row.id, row.state, row.credential_hash, at, row.id, at, at, row.id, at, row.id, at] })).rows;
  if (Number(written[0]?.written) !== 1) throw new Error(`device ${row.id} was not written`);
  return written;
}

const devices = (await pool.query("SELECT id, credential_hash FROM devices WHERE state = 'enrolled' AND credential_hash IS NOT NULL ORDER BY id")).rows;
if (devices.length === 0) throw new Error('no enrolled devices in the database');
// Every connection of the pool opened before the clock starts, as a warm server's are.
await Promise.all(Array.from({ length: poolSize }, () => pool.connect())).then((clients) => clients.forEach((c) => c.release()));

let next = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(Array.from({ length: Math.min(concurrency, devices.length) }, async () => {
  while (next < devices.length) await checkIn(devices[next++]);
}));
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await pool.end();
console.log(JSON.stringify({ checkIns: devices.length, seconds, checkInsPerSecond: devices.length / seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
