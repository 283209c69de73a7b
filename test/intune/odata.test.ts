// The fake Graph's query and rule languages on their own: OData $filter / $expand parsing and
// evaluation, and Entra dynamic device-membership rules.
import { describe, expect, it } from 'vitest';
import { evaluateRule, parseRule } from './membership-rule.js';
import { matches, parseExpand, parseFilter, unsupported, type FilterSupport } from './odata.js';

const support: FilterSupport = {
  properties: { deviceName: 'string', operatingSystem: 'string', lastSyncDateTime: 'datetime', isEncrypted: 'boolean', groupTypes: 'collection', size: 'number' },
  functions: ['startswith'],
  in: true,
};

const rec = { deviceName: "O'Brien's iPhone", operatingSystem: 'iOS', lastSyncDateTime: '2026-03-01T10:00:00Z', isEncrypted: true, groupTypes: ['DynamicMembership'], size: 3 };

describe('$filter', () => {
  it('parses comparisons, escaped quotes, in, functions, any() and unquoted date literals', () => {
    const cases: Array<[string, boolean]> = [
      ["deviceName eq 'O''Brien''s iPhone'", true],
      ["deviceName eq 'o''brien''s IPHONE'", true], // case-insensitive, as Graph compares strings
      ["operatingSystem ne 'iOS'", false],
      ["operatingSystem in ('Android','iOS')", true],
      ["startswith(deviceName,'o''bri')", true],
      ['lastSyncDateTime ge 2026-03-01T00:00:00Z', true],
      ['lastSyncDateTime lt 2026-03-01T00:00:00Z', false],
      ['isEncrypted eq true', true],
      ['size gt 2 and size le 3', true],
      ["groupTypes/any(c:c eq 'DynamicMembership')", true],
      ["groupTypes/any(x:x eq 'Unified')", false],
      ["not (operatingSystem eq 'iOS')", false],
      // and binds tighter than or
      ["operatingSystem eq 'Android' and isEncrypted eq false or size eq 3", true],
      ["operatingSystem eq 'Android' and (isEncrypted eq false or size eq 3)", false],
    ];
    for (const [src, want] of cases) expect(matches(parseFilter(src), rec), src).toBe(want);
  });

  it('refuses broken syntax with the position', () => {
    expect(() => parseFilter("deviceName eq 'open")).toThrow('unterminated string literal at position 14');
    expect(() => parseFilter('deviceName eq')).toThrow('unexpected end of filter');
    expect(() => parseFilter("deviceName like 'x'")).toThrow("unknown operator 'like' at position 11");
    expect(() => parseFilter("(deviceName eq 'x'")).toThrow("unexpected end of filter");
    expect(() => parseFilter("deviceName eq 'x' extra")).toThrow("unexpected 'extra' at position 18");
    expect(() => parseFilter('')).toThrow('empty filter');
  });

  it('names the first part a collection does not support', () => {
    expect(unsupported(parseFilter("contains(deviceName,'x')"), support)).toEqual({ property: 'deviceName', message: 'the function contains() is not supported here' });
    expect(unsupported(parseFilter("notes eq 'x'"), support)).toEqual({ property: 'notes', message: "filtering on property 'notes' is not supported" });
    expect(unsupported(parseFilter("startswith(size,'1')"), support)?.message).toBe("startswith() on property 'size' is not supported");
    expect(unsupported(parseFilter("operatingSystem eq 'iOS' and deviceName eq 'x'"), support)).toBeUndefined();
    expect(unsupported(parseFilter("operatingSystem in ('iOS')"), { ...support, in: false })?.message).toBe("the 'in' operator is not supported here");
  });
});

describe('$expand', () => {
  it('parses nested $expand and $select', () => {
    expect(parseExpand('assignments,scheduledActionsForRule($expand=scheduledActionConfigurations)')).toEqual([
      { name: 'assignments', expand: [] },
      { name: 'scheduledActionsForRule', expand: [{ name: 'scheduledActionConfigurations', expand: [] }] },
    ]);
    expect(parseExpand('members($select=id,deviceId)')).toEqual([{ name: 'members', expand: [], select: ['id', 'deviceId'] }]);
    expect(() => parseExpand('members($top=1)')).toThrow('invalid nested option in $expand at position 8');
    expect(() => parseExpand('members(')).toThrow();
  });
});

describe('dynamic membership rules', () => {
  const corporateAndroid = { deviceOSType: 'AndroidEnterprise', deviceOwnership: 'Company', deviceOSVersion: '14', displayName: 'ANDROID-1', systemLabels: ['M365Managed'], isRooted: false };

  it('evaluates -eq/-ne/-in/-startsWith/-match/-any with -and/-or/-not, ignoring case', () => {
    const cases: Array<[string, boolean]> = [
      ['(device.deviceOSType -eq "androidenterprise") -and (device.deviceOwnership -eq "Company")', true],
      ['device.deviceOSType -in ["iPhone", "iPad"]', false],
      ['device.deviceOSType -notIn ["iPhone", "iPad"]', true],
      ['device.displayName -startsWith "android-"', true],
      ['device.displayName -match "^ANDROID-[0-9]+$"', true],
      ['device.systemLabels -any "M365Managed"', true],
      ['device.isRooted -eq true', false],
      ['-not (device.deviceOwnership -eq "Personal")', true],
      ['device.deviceOSType -eq "iPhone" -or device.deviceOSType -eq "AndroidEnterprise" -and device.deviceOwnership -eq "Personal"', false],
    ];
    for (const [rule, want] of cases) expect(evaluateRule(parseRule(rule), corporateAndroid), rule).toBe(want);
  });

  it('refuses what Entra refuses: unknown properties and operators, bad values, bad regular expressions', () => {
    expect(() => parseRule('device.platform -eq "iOS"')).toThrow("unsupported device property 'platform'");
    expect(() => parseRule('user.department -eq "x"')).toThrow("expected device.<property> but found 'user.department'");
    expect(() => parseRule('device.deviceOSType -equals "x"')).toThrow("unsupported operator '-equals'");
    expect(() => parseRule('device.deviceOSType -eq iPhone')).toThrow("expected a quoted value after -eq but found 'iPhone'");
    expect(() => parseRule('device.deviceOSType -in "iPhone"')).toThrow('-in takes a list');
    expect(() => parseRule('device.displayName -match "("')).toThrow('invalid regular expression "("');
    expect(() => parseRule('(device.deviceOSType -eq "x"')).toThrow('unexpected end of rule');
  });
});
