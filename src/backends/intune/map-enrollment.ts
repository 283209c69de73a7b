// EnrollmentProfile → for corporate Android, the beta androidDeviceOwnerEnrollmentProfile
// (fully managed); its tokens come from `createToken`. Apple and Windows enrollment in Intune
// needs vendor tokens (ADE, Autopilot deployment profiles) emmctl does not hold: such profiles
// are refused with the reason, before anything is applied. Pure.
import type { EnrollmentProfileDocument } from '../../model/policy.generated.js';
import { displayName, withMarker, type Marker } from './marker.js';
import type { Unmapped } from './map-policy.js';

export function mapEnrollmentProfile(doc: EnrollmentProfileDocument, _groupIds: ReadonlyMap<string, string>): { body: Record<string, unknown>; unmapped: Unmapped[] } | { refused: string } {
  const s = doc.spec;
  if (s.ownership !== 'corporate' || s.platforms.length !== 1 || s.platforms[0] !== 'android') {
    return { refused: 'Intune enrollment profiles emmctl can create are for corporate Android only (platforms: [android], ownership: corporate); enroll Apple devices through Apple Business Manager and Windows through Autopilot in Intune' };
  }
  const keep: Record<string, unknown> = {};
  const unmapped: Unmapped[] = [];
  if (s.labels && Object.keys(s.labels).length) {
    keep.labels = s.labels;
    unmapped.push({ path: 'spec.labels', why: 'Intune devices have no labels' });
  }
  if (s.group) {
    keep.group = s.group;
    unmapped.push({ path: 'spec.group', why: 'an Intune enrollment profile puts devices in no group; use a dynamic group on enrollmentProfileName instead' });
  }
  if (s.maxUses !== undefined) {
    keep.maxUses = s.maxUses;
    unmapped.push({ path: 'spec.maxUses', why: 'Intune tokens have no use limit' });
  }
  if (s.tokenTtl !== undefined) keep.tokenTtl = s.tokenTtl;
  const marker: Marker = {
    kind: 'EnrollmentProfile',
    name: doc.metadata.name,
    ...(doc.metadata.description !== undefined ? { description: doc.metadata.description } : {}),
    ...(doc.metadata.labels && Object.keys(doc.metadata.labels).length ? { labels: doc.metadata.labels } : {}),
    ...(Object.keys(keep).length ? { keep } : {}),
  };
  return {
    body: {
      '@odata.type': '#microsoft.graph.androidDeviceOwnerEnrollmentProfile',
      displayName: displayName(doc.metadata.name),
      description: withMarker(marker),
      enrollmentMode: 'corporateOwnedFullyManaged',
    },
    unmapped,
  };
}

export function readEnrollmentProfile(marker: Marker, _profile: Record<string, unknown>, _groupNames: ReadonlyMap<string, string>): EnrollmentProfileDocument {
  const keep = marker.keep ?? {};
  return {
    apiVersion: 'emmctl/v1',
    kind: 'EnrollmentProfile',
    metadata: { name: marker.name, ...(marker.description !== undefined ? { description: marker.description } : {}), ...(marker.labels ? { labels: marker.labels } : {}) },
    spec: {
      platforms: ['android'],
      ownership: 'corporate',
      ...(keep.labels ? { labels: keep.labels as Record<string, string> } : {}),
      ...(keep.group ? { group: keep.group as string } : {}),
      ...(keep.tokenTtl ? { tokenTtl: keep.tokenTtl as string } : {}),
      ...(keep.maxUses !== undefined ? { maxUses: keep.maxUses as number } : {}),
    },
  };
}
