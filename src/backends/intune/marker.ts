// Ownership and memory: every object emmctl writes to Intune is named `emmctl:<name>` (or
// `emmctl:<name>:<platform>`) and ends its description with a marker line. The marker says which
// emmctl document the object belongs to, and keeps what Intune cannot hold (labels, fields with
// no Graph property, the spelling of durations), so reading the tenant back gives the very
// document that was applied, while every field Intune does hold is read from Intune itself:
// a change made in the portal shows in the next plan.
import type { ResourceKind } from '../../model/policy.generated.js';

export const NAME_PREFIX = 'emmctl:';
const MARKER = '[emmctl:v1]';

export interface Marker {
  kind: ResourceKind;
  name: string;
  /** metadata.description and metadata.labels as written. */
  description?: string;
  labels?: Record<string, string>;
  /** Spec fields no Graph property carries, by dotted path under spec. */
  keep?: Record<string, unknown>;
  /** Mapping details needed to read the object back exactly (e.g. how durations were spelled). */
  x?: Record<string, unknown>;
}

/** The description written to Graph: the user's text, then the marker on its own line. */
export function withMarker(marker: Marker): string {
  const { description, ...rest } = marker;
  const line = `${MARKER} ${JSON.stringify(rest)}`;
  return description ? `${description}\n\n${line}` : line;
}

/** The marker of an object emmctl owns, or undefined (the object is someone else's). */
export function readMarker(displayName: unknown, description: unknown): Marker | undefined {
  if (typeof displayName !== 'string' || !displayName.startsWith(NAME_PREFIX)) return undefined;
  if (typeof description !== 'string') return undefined;
  const at = description.lastIndexOf(MARKER);
  if (at < 0) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(description.slice(at + MARKER.length).trim());
  } catch {
    return undefined;
  }
  const m = data as Partial<Marker>;
  if (!m || typeof m !== 'object' || typeof m.kind !== 'string' || typeof m.name !== 'string') return undefined;
  const text = description.slice(0, at).replace(/\s+$/, '');
  return { ...(m as Marker), ...(text ? { description: text } : {}) };
}

export function displayName(name: string, platform?: string): string {
  return platform ? `${NAME_PREFIX}${name}:${platform}` : `${NAME_PREFIX}${name}`;
}

/** Sets a dotted path (`passcode.minLength`) in an object, making the objects on the way. */
export function setDotted(root: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = root;
  for (const p of parts.slice(0, -1)) {
    if (typeof node[p] !== 'object' || node[p] === null || Array.isArray(node[p])) {
      Object.defineProperty(node, p, { value: {}, enumerable: true, writable: true, configurable: true });
    }
    node = node[p] as Record<string, unknown>;
  }
  Object.defineProperty(node, parts[parts.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
}

export function getDotted(root: unknown, path: string): unknown {
  let node = root;
  for (const p of path.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, p)) return undefined;
    node = (node as Record<string, unknown>)[p];
  }
  return node;
}

/** Every leaf path of a settings object (arrays are leaves: they map whole or not at all). */
export function leafPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return prefix ? [prefix] : [];
  return Object.keys(value).flatMap((k) => leafPaths((value as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
}
