// The raw-`pg` baseline of checkin-scale.bench.mjs: a child process (a core of its own, as a
// server replica has) that runs, straight on a node-postgres Pool with named prepared statements,
// the statements one agent check-in makes `emmctl server` issue (src/server/auth.ts's
// authenticateDevice, then FleetService.checkIn), in the same transactions, for every enrolled
// device of the database, CONCURRENCY at a time. No HTTP, no JSON bodies, no compliance
// evaluation: what is left is the database's share of a check-in.
//
// Per check-in, in order:
//   auth   SELECT id … WHERE credential_hash (one statement, no transaction)
//   write  BEGIN; SELECT * FROM devices WHERE id; SELECT the resource generation;
//          UPDATE devices SET posture, …, the stored compliance evaluation (same-valued here: the
//          loop evaluates nothing); [SELECT the episode's fired steps, when one is open];
//          SELECT the pending commands; COMMIT
// Keep this list in step with FleetService.authenticateDevice and checkIn: the ratio then means
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
  row: { name: 'raw_row', text: 'SELECT * FROM devices WHERE id = $1' },
  generation: { name: 'raw_generation', text: "SELECT value FROM meta WHERE key = 'resource_generation'" },
  update: {
    name: 'raw_update',
    text: `UPDATE devices SET posture = $1, model = coalesce($2, model), last_check_in = $3, applied_config_version = $4, updated_at = $5,
      compliance = $6, compliance_from = $7, compliance_until = $8, compliance_gen = $9 WHERE id = $10`,
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
    const row = (await run(c, q.row, [id])).rows[0];
    if (!row?.credential_hash) throw new Error(`device ${id} is not enrolled`);
    await run(c, q.generation);
    // The posture as the device sent it last time: the same OS, as in the usual check-in.
    await run(c, q.update, [row.posture, row.model, at, row.applied_config_version, at, row.compliance, row.compliance_from, row.compliance_until, row.compliance_gen, id]);
    if (row.noncompliant_since) await run(c, q.fired, [id, row.noncompliant_since]);
    return (await run(c, q.pending, [id])).rows;
  });
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
