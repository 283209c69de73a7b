// The simulator's memory between runs: which simulated devices enrolled where, with which
// credential, and which configuration each applied last. Holds device credentials, so the file
// is written owner-only (0600), atomically (temp file + rename) so a Ctrl-C mid-write never
// leaves half a file.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-file.js';
import { makeDirs } from '../make-dirs.js';
import { dirname } from 'node:path';
import { EmmctlError } from '../errors.js';

export type SimulatedDeviceState = 'enrolled' | 'wiped' | 'retired';

export interface DeviceEntry {
  /** Serial at enrollment: a check that the seed still generates the same device. */
  serial: string;
  deviceId: string;
  /** Absent once the device was wiped (it forgot its identity). */
  credential?: string;
  state: SimulatedDeviceState;
  /** Configuration version applied at the last check-in, reported at the next. */
  appliedConfigVersion?: string;
}

export interface FleetState {
  seed: number;
  /** Indexed by device index; null for a device that never enrolled. */
  devices: Array<DeviceEntry | null>;
}

export interface StateFile {
  version: 1;
  /** One fleet per place: `embedded:<data dir>` for the in-process server over that store, else the server URL. */
  fleets: Record<string, FleetState>;
}

export function readState(path: string): StateFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, fleets: {} };
    throw new EmmctlError(`cannot read simulator state ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EmmctlError(`simulator state ${path} is not valid JSON: ${(error as Error).message}`, {
      hint: `move it aside to start a new simulated fleet (its devices will enroll again): mv ${path} ${path}.bak`,
    });
  }
  const state = parsed as Partial<StateFile>;
  if (state?.version !== 1 || typeof state.fleets !== 'object' || state.fleets === null) {
    throw new EmmctlError(`simulator state ${path} has an unknown format (expected version 1)`, { hint: `move it aside to start a new simulated fleet: mv ${path} ${path}.bak` });
  }
  return state as StateFile;
}

export function writeState(path: string, state: StateFile): void {
  makeDirs(dirname(path), 0o700);
  writeFileAtomic(path, `${JSON.stringify(state)}\n`, { mode: 0o600 });
}
