// Placeholder: the HTTP driver for `emmctl server` is being built (issue: the backend).
import { EmmctlError } from '../../errors.js';
import type { Backend } from '../backend.js';
import type { BackendTarget } from '../index.js';

export async function openHttpBackend(_target: Extract<BackendTarget, { kind: 'http' }>): Promise<Backend> {
  throw new EmmctlError('the HTTP backend is not built yet');
}
