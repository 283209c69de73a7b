// The Backend contract on the HTTP driver with the server on PostgreSQL: a real `emmctl server`
// child process serving a fresh database (the password in PGPASSWORD, never a flag; see
// http-target.ts for the rest of the fixture).
import { cliDatabase, freshDatabase } from '../helpers/postgres.js';
import { backendContract } from './backend-contract.js';
import { serveForContract } from './http-target.js';

backendContract('http on postgres', async () => {
  const db = await freshDatabase();
  return serveForContract(cliDatabase(db), () => db.drop());
});
