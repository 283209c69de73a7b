// The raw-`pg` baseline of checkin-scale.bench.mjs: a child process (a core of its own, as a
// server replica has) that runs, straight on a node-postgres Pool with named prepared statements,
// the statements one agent check-in makes `emmctl server` issue (src/server/auth.ts's
// authenticateDevice, then FleetStore.checkIn), in the same transactions, for every enrolled
// device of the database, CONCURRENCY at a time. No HTTP, no JSON bodies, no compliance
// evaluation: what is left is the database's share of a check-in.
//
// Per check-in, in order:
//   auth   SELECT id … WHERE credential_hash (one statement, no transaction)
//   write  BEGIN; UPDATE devices SET posture, … RETURNING *, the resource generation and whether a
//          command waits; [SELECT the episode's fired steps, when one is open];
//          [SELECT the pending commands, when one waits]; COMMIT
// Keep this list in step with FleetStore.authenticateDevice and checkIn: the ratio then means
// "our layers cost this much", whatever the number of round trips.
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
  auth: { name: 'raw_auth', text: "SELECT id FROM devices WHERE credential_hash = $1 AND state IN ('enrolled', 'retired')" },
  update: {
    name: 'raw_update',
    text: `UPDATE devices SET posture = $1, model = coalesce($2, model), last_check_in = $3, applied_config_version = $4, updated_at = $5
      WHERE id = $6 AND os_version = $7 AND credential_hash IS NOT NULL AND state IN ('enrolled', 'retired')
      RETURNING *, (SELECT value FROM meta WHERE key = 'resource_generation') AS resource_generation,
        EXISTS (SELECT 1 FROM commands WHERE device_id = devices.id AND status IN ('queued', 'sent')) AS has_commands`,
  },
  fired: { name: 'raw_fired', text: 'SELECT policy, after_seconds, action FROM escalations WHERE device_id = $1 AND episode_start = $2' },
  pending: { name: 'raw_pending', text: "SELECT * FROM commands WHERE device_id = $1 AND status IN ('queued', 'sent') ORDER BY seq" },
};
const run = (client, stmt, values = []) => client.query({ ...stmt, values });

async function inTransaction(begin, fn) {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

async function checkIn(device) {
  const id = (await pool.query({ ...q.auth, values: [device.credential_hash] })).rows[0]?.id;
  if (id !== device.id) throw new Error(`device ${device.id} did not authenticate`);
  await inTransaction('BEGIN', async (c) => {
    const at = new Date().toISOString();
    // The posture as the device sent it last time: the same OS, as in the usual check-in.
    const row = (await run(c, q.update, [device.posture, device.model, at, device.applied_config_version, at, id, device.os_version])).rows[0];
    if (!row) throw new Error(`device ${id} was not updated`);
    if (row.noncompliant_since) await run(c, q.fired, [id, row.noncompliant_since]);
    return row.has_commands ? (await run(c, q.pending, [id])).rows : [];
  });
}

const devices = (await pool.query("SELECT id, credential_hash, posture, model, applied_config_version, os_version FROM devices WHERE state = 'enrolled' AND credential_hash IS NOT NULL ORDER BY id")).rows;
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
