import { describe, expect, it } from 'vitest';
import { groupsForDevice, policiesForGroups } from '../../src/compliance/index.js';
import { compliance, device, group, posture, profile } from './fixtures.js';

describe('groupsForDevice', () => {
  const groups = [
    group('android', { match: { platforms: ['android'] } }),
    group('apple', { match: { platforms: ['ios', 'ipados', 'macos'] } }),
    group('corp', { match: { ownership: 'corporate' } }),
    group('byod', { match: { ownership: 'personal' } }),
    group('sales-emea', { match: { labels: { team: 'sales', region: 'emea' } } }),
    group('example-domain', { match: { owners: ['example.com'] } }),
    group('example-glob', { match: { owners: ['*@example.com'] } }),
    group('ana', { match: { owners: ['bo@example.org', 'Ana@Example.com'] } }),
    group('corp-android-sales', { match: { platforms: ['android'], ownership: 'corporate', labels: { team: 'sales' } } }),
    group('everyone', { match: {} }),
    group('static-id', { devices: ['dev_1', 'dev_9'] }),
    group('static-serial', { devices: ['SN001'] }),
    group('kiosk', { devices: ['nobody'] }),
  ];

  it('always includes all, sorted and unique', () => {
    const g = groupsForDevice(device({ id: 'x', serial: undefined, owner: undefined, platform: 'windows', ownership: 'personal', posture: posture({ serial: undefined }) }), groups, []);
    expect(g).toEqual(['all', 'byod', 'everyone']);
  });

  it('matches platforms, ownership, every label, owners and static ids/serials', () => {
    const d = device({ labels: { team: 'sales', region: 'emea', extra: 'x' } });
    expect(groupsForDevice(d, groups, [])).toEqual([
      'all', 'ana', 'android', 'corp', 'corp-android-sales', 'everyone', 'example-domain', 'example-glob', 'sales-emea', 'static-id', 'static-serial',
    ]);
  });

  it('needs every label to be equal, and every condition to hold', () => {
    const d = device({ id: 'other', serial: 'SN002', platform: 'ios', owner: 'cy@example.org', labels: { team: 'sales', region: 'apac' } });
    expect(groupsForDevice(d, groups, [])).toEqual(['all', 'apple', 'corp', 'everyone']);
  });

  it('does not match owner patterns on a lookalike domain or a missing owner', () => {
    expect(groupsForDevice(device({ owner: 'ana@notexample.com', id: 'z', serial: 'z' }), groups, [])).not.toContain('example-domain');
    expect(groupsForDevice(device({ owner: 'ana@example.com.evil', id: 'z', serial: 'z' }), groups, [])).not.toContain('example-glob');
    expect(groupsForDevice(device({ owner: undefined, id: 'z', serial: 'z' }), groups, [])).not.toContain('example-glob');
  });

  it('finds a static member by the serial it reported when enrollment had none', () => {
    const d = device({ id: 'dev_x', serial: undefined, posture: posture({ serial: 'SN001' }) });
    expect(groupsForDevice(d, groups, [])).toContain('static-serial');
  });

  it("joins the group of the device's enrollment profile, and only that profile's", () => {
    const profiles = [profile('kiosk-profile', 'kiosk'), profile('other', 'byod'), profile('plain')];
    const d = device({ id: 'k1', serial: 'K1', platform: 'windows', profile: 'kiosk-profile', owner: undefined });
    expect(groupsForDevice(d, groups, profiles)).toEqual(['all', 'corp', 'everyone', 'kiosk']);
    expect(groupsForDevice({ ...d, profile: 'plain' }, groups, profiles)).toEqual(['all', 'corp', 'everyone']);
    expect(groupsForDevice({ ...d, profile: undefined }, groups, profiles)).toEqual(['all', 'corp', 'everyone']);
  });
});

describe('policiesForGroups', () => {
  const docs = [compliance('a', {}, undefined, ['sales']), compliance('b', {}, undefined, ['all']), compliance('c', {}, undefined, ['eng', 'ops'])];

  it('keeps documents assigned to any of the groups, in their order', () => {
    expect(policiesForGroups(docs, ['all', 'ops']).map((d) => d.metadata.name)).toEqual(['b', 'c']);
    expect(policiesForGroups(docs, ['sales', 'all']).map((d) => d.metadata.name)).toEqual(['a', 'b']);
    expect(policiesForGroups(docs, ['nobody'])).toEqual([]);
  });
});
