// Placeholder: the embedded SQLite driver is being built (issue: the backend).
import { EmmctlError } from '../../errors.js';
import type { Backend } from '../backend.js';
import type { BackendTarget } from '../index.js';

export async function openEmbeddedBackend(_target: Extract<BackendTarget, { kind: 'embedded' }>): Promise<Backend> {
  throw new EmmctlError('the embedded backend is not built yet');
}
