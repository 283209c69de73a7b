// The Graph metadata checker against Graph's own published metadata: real types accept the bodies
// Graph documents and refuse a misspelled field, a wrong type and a bad enum member, precisely.
import { describe, expect, it } from 'vitest';
import { BETA_ONLY_BASES, betaModel, checkActionBody, checkBody, derivesFrom, hasType, parseCsdl, parseTimes, propertyNames, specsAvailable, v1Model } from './graph-schema.js';

const compliance = {
  '@odata.type': '#microsoft.graph.androidWorkProfileCompliancePolicy',
  displayName: 'emmctl:baseline:android',
  description: 'managed by emmctl',
  osMinimumVersion: '13',
  passwordRequired: true,
  passwordMinimumLength: 6,
  passwordRequiredType: 'numericComplex',
  securityBlockJailbrokenDevices: true,
  storageRequireEncryption: true,
  minAndroidSecurityPatchLevel: '2024-10-01',
  scheduledActionsForRule: [
    {
      ruleName: 'PasswordRequired',
      scheduledActionConfigurations: [
        { actionType: 'block', gracePeriodHours: 72, notificationTemplateId: '', notificationMessageCCList: [] },
        { actionType: 'retire', gracePeriodHours: 720 },
      ],
    },
  ],
};

describe('CSDL reader (no specs needed)', () => {
  it('reads types, BaseType through aliases, enums, navigation properties and bound actions', () => {
    const xml = `<?xml version="1.0"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
      <Schema Namespace="microsoft.graph" Alias="graph">
        <!-- a comment with <Property Name="ignored" Type="Edm.String" /> inside -->
        <EnumType Name="color" IsFlags="true"><Member Name="red" Value="1" /><Member Name="blue" Value="2" /></EnumType>
        <EntityType Name="entity" Abstract="true"><Key><PropertyRef Name="id" /></Key><Property Name="id" Type="Edm.String" Nullable="false" /></EntityType>
        <EntityType Name="thing" BaseType="graph.entity">
          <Property Name="label" Type="Edm.String"><Annotation Term="Org.OData.Core.V1.Description" String="a &gt; b &amp; c" /></Property>
          <Property Name="tags" Type="Collection(graph.color)" />
          <NavigationProperty Name="parts" Type="Collection(other.part)" ContainsTarget="true" />
        </EntityType>
        <Action Name="poke" IsBound="true"><Parameter Name="bindingParameter" Type="graph.thing" /><Parameter Name="hard" Type="Edm.Boolean" Nullable="false" /></Action>
      </Schema>
      <Schema Namespace="microsoft.graph.other" Alias="other"><EntityType Name="part" BaseType="graph.entity" /></Schema>
    </edmx:DataServices></edmx:Edmx>`;
    const m = parseCsdl(xml);
    const thing = m.types.get('microsoft.graph.thing')!;
    expect(thing.baseType).toBe('microsoft.graph.entity');
    expect([...thing.props.keys()]).toEqual(['label', 'tags']);
    expect(thing.props.get('tags')).toEqual({ name: 'tags', type: 'microsoft.graph.color', collection: true, nullable: true });
    expect(thing.navs.get('parts')).toEqual({ name: 'parts', type: 'microsoft.graph.other.part', collection: true, containsTarget: true });
    expect(m.types.get('microsoft.graph.entity')!.abstract).toBe(true);
    expect(m.enums.get('microsoft.graph.color')).toEqual({ fullName: 'microsoft.graph.color', flags: true, members: new Set(['red', 'blue']) });
    expect(m.actions.get('microsoft.graph.thing/poke')!.params).toEqual([{ name: 'hard', type: 'Edm.Boolean', collection: false, nullable: false }]);
    expect(m.types.has('microsoft.graph.other.part')).toBe(true);
  });
});

describe.skipIf(!specsAvailable())('Graph metadata checker (vendor specs)', () => {
  it('parses each model once per process and reports how long it took', () => {
    const first = v1Model();
    const beta = betaModel();
    expect(v1Model()).toBe(first);
    expect(betaModel()).toBe(beta);
    const times = parseTimes();
    expect(times.v1).toBeGreaterThan(0);
    expect(times.beta).toBeGreaterThan(0);
    // The sizes are what the pinned metadata holds: a reader that dropped elements would show here.
    expect(first.types.size).toBeGreaterThan(2500);
    expect(first.enums.size).toBeGreaterThan(800);
  });

  it('follows BaseType chains, including beta-only types', () => {
    expect(derivesFrom('v1.0', '#microsoft.graph.iosGeneralDeviceConfiguration', 'microsoft.graph.deviceConfiguration')).toBe(true);
    expect(derivesFrom('v1.0', 'microsoft.graph.group', 'microsoft.graph.entity')).toBe(true);
    expect(derivesFrom('v1.0', 'microsoft.graph.group', 'microsoft.graph.deviceConfiguration')).toBe(false);
    expect(hasType('v1.0', 'microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration')).toBe(false);
    expect(hasType('beta', 'microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration')).toBe(true);
    expect(derivesFrom('beta', 'microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration', 'microsoft.graph.deviceConfiguration')).toBe(true);
    // Every declared beta-only base is really a beta type and really not in v1.0.
    for (const [t, base] of Object.entries(BETA_ONLY_BASES)) {
      expect(hasType('v1.0', t), t).toBe(false);
      expect(hasType('beta', t), t).toBe(true);
      expect(hasType('beta', base), base).toBe(true);
    }
    // Inherited names are found: displayName lives on deviceConfiguration, id on entity.
    const names = propertyNames('beta', 'microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration')!;
    expect(names.has('displayName') && names.has('id') && names.has('passwordMinimumLength')).toBe(true);
  });

  describe('v1.0', () => {
    it('accepts a security group with a dynamic device rule and static members by @odata.bind', () => {
      expect(checkBody('v1.0', '#microsoft.graph.group', {
        displayName: 'emmctl:corp-ios',
        description: 'managed by emmctl',
        mailEnabled: false,
        mailNickname: 'emmctl-corp-ios',
        securityEnabled: true,
        groupTypes: ['DynamicMembership'],
        membershipRule: '(device.deviceOSType -eq "iPhone") -and (device.deviceOwnership -eq "Company")',
        membershipRuleProcessingState: 'On',
      })).toEqual([]);
      expect(checkBody('v1.0', '#microsoft.graph.group', {
        displayName: 'kiosks', mailEnabled: false, mailNickname: 'kiosks', securityEnabled: true,
        'members@odata.bind': ['https://graph.microsoft.com/v1.0/directoryObjects/0b7d2c1e-5b4e-4b8e-9f77-3c1d2e4f5a6b'],
      })).toEqual([]);
    });

    it('refuses a misspelled field (with a suggestion), a wrong type and a navigation property in the body', () => {
      expect(checkBody('v1.0', '#microsoft.graph.group', { displayNam: 'x', mailEnabled: 'no', owners: [] })).toEqual([
        { path: 'displayNam', expected: 'a property of microsoft.graph.group (did you mean "displayName"?)', got: 'unknown property "displayNam"' },
        { path: 'mailEnabled', expected: 'Edm.Boolean', got: 'string "no"' },
        { path: 'owners', expected: 'no navigation property in a create body (use owners@odata.bind)', got: 'array' },
      ]);
      // group is an OpenType: only directory extension properties may be added dynamically.
      expect(checkBody('v1.0', 'microsoft.graph.group', { extension_0123456789abcdef0123456789abcdef_costCenter: '42' })).toEqual([]);
      expect(checkBody('v1.0', 'microsoft.graph.group', { 'members@odata.bind': 'not-a-list' })[0]).toMatchObject({ path: 'members@odata.bind', expected: 'array of entity URLs' });
      expect(checkBody('v1.0', 'microsoft.graph.group', { 'displayName@odata.bind': 'x' })[0]).toMatchObject({ path: 'displayName@odata.bind' });
    });

    it('accepts an iOS configuration and refuses a wrong type and a bad enum member', () => {
      const ios = { '@odata.type': '#microsoft.graph.iosGeneralDeviceConfiguration', displayName: 'emmctl:p:ios', passcodeRequired: true, passcodeMinimumLength: 6, passcodeRequiredType: 'alphanumeric', cameraBlocked: true };
      expect(checkBody('v1.0', 'microsoft.graph.deviceConfiguration', ios)).toEqual([]);
      expect(checkBody('v1.0', 'microsoft.graph.deviceConfiguration', { ...ios, passcodeMinimumLength: '6', passcodeRequiredType: 'alphanumerc' })).toEqual([
        { path: 'passcodeMinimumLength', expected: 'Edm.Int32 (integer -2147483648..2147483647)', got: 'string "6"' },
        { path: 'passcodeRequiredType', expected: 'microsoft.graph.requiredPasswordType member (one of alphanumeric, deviceDefault, numeric)', got: 'string "alphanumerc"' },
      ]);
    });

    it('needs a concrete @odata.type for an abstract base, and one derived from the declared type', () => {
      expect(checkBody('v1.0', 'microsoft.graph.deviceConfiguration', { displayName: 'x' })).toEqual([
        { path: '@odata.type', expected: 'a concrete type derived from abstract microsoft.graph.deviceConfiguration', got: 'none' },
      ]);
      expect(checkBody('v1.0', 'microsoft.graph.deviceConfiguration', { '@odata.type': '#microsoft.graph.group', displayName: 'x' })).toEqual([
        { path: '@odata.type', expected: 'microsoft.graph.deviceConfiguration or a type derived from it', got: 'string "#microsoft.graph.group"' },
      ]);
      // A beta-only type does not exist in v1.0.
      expect(checkBody('v1.0', 'microsoft.graph.deviceConfiguration', { '@odata.type': '#microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration', displayName: 'x' })[0]).toMatchObject({ path: '@odata.type', expected: 'a type Graph v1.0 defines (derived from microsoft.graph.deviceConfiguration)' });
    });

    it('accepts a compliance policy created with scheduledActionsForRule (deep insert) and checks inside it', () => {
      expect(checkBody('v1.0', 'microsoft.graph.deviceCompliancePolicy', compliance)).toEqual([]);
      const bad = structuredClone(compliance);
      bad.scheduledActionsForRule[0]!.scheduledActionConfigurations[0] = { actionType: 'remoteLock', gracePeriodHours: 1.5 } as never;
      expect(checkBody('v1.0', 'microsoft.graph.deviceCompliancePolicy', bad)).toEqual([
        {
          path: 'scheduledActionsForRule[0].scheduledActionConfigurations[0].actionType',
          expected: 'microsoft.graph.deviceComplianceActionType member (one of block, noAction, notification, pushNotification, removeResourceAccessProfiles, retire, wipe)',
          got: 'string "remoteLock"',
        },
        { path: 'scheduledActionsForRule[0].scheduledActionConfigurations[0].gracePeriodHours', expected: 'Edm.Int32 (integer -2147483648..2147483647)', got: 'number 1.5' },
      ]);
      // An update (PATCH) may not carry navigation properties at all.
      expect(checkBody('v1.0', 'microsoft.graph.deviceCompliancePolicy', compliance, { operation: 'update' })).toEqual([
        { path: 'scheduledActionsForRule', expected: 'no navigation property in a update body (use scheduledActionsForRule@odata.bind)', got: 'array' },
      ]);
    });

    it('checks Edm primitives: DateTimeOffset, Duration, Binary, Int64, Guid, Date', () => {
      const autopilot = { '@odata.type': '#microsoft.graph.importedWindowsAutopilotDeviceIdentity', serialNumber: 'PF3XYZ12', hardwareIdentifier: 'T0RVeU1qUT0=', groupTag: 'kiosk' };
      expect(checkBody('v1.0', 'microsoft.graph.importedWindowsAutopilotDeviceIdentity', autopilot)).toEqual([]);
      expect(checkBody('v1.0', 'microsoft.graph.importedWindowsAutopilotDeviceIdentity', { ...autopilot, hardwareIdentifier: 'not base64!' })).toEqual([
        { path: 'hardwareIdentifier', expected: 'Edm.Binary (base64)', got: 'string "not base64!"' },
      ]);
      const win = { '@odata.type': '#microsoft.graph.windows10GeneralConfiguration', displayName: 'w', passwordMinutesOfInactivityBeforeScreenTimeout: 15 };
      expect(checkBody('v1.0', 'microsoft.graph.deviceConfiguration', win)).toEqual([]);
      const rule = 'microsoft.graph.unifiedRoleManagementPolicyExpirationRule';
      expect(checkBody('v1.0', rule, { maximumDuration: 'PT8H', isExpirationRequired: true })).toEqual([]);
      expect(checkBody('v1.0', rule, { maximumDuration: 'P1DT' })).toEqual([{ path: 'maximumDuration', expected: 'Edm.Duration (ISO 8601, e.g. PT1H30M)', got: 'string "P1DT"' }]);
      expect(checkBody('v1.0', rule, { maximumDuration: '8 hours' })).toHaveLength(1);
      expect(checkBody('v1.0', 'microsoft.graph.managedDevice', { freeStorageSpaceInBytes: 12_000_000_000, lastSyncDateTime: '2026-02-30T10:00:00Z' })).toEqual([
        { path: 'lastSyncDateTime', expected: 'Edm.DateTimeOffset (ISO 8601 with zone, e.g. 2026-01-31T12:00:00Z)', got: 'string "2026-02-30T10:00:00Z"' },
      ]);
      expect(checkBody('v1.0', 'microsoft.graph.managedDevice', { lastSyncDateTime: '2026-01-30T10:00:00.1234567Z', freeStorageSpaceInBytes: '12000000000' })).toEqual([]);
      expect(checkBody('v1.0', 'microsoft.graph.managedDevice', { freeStorageSpaceInBytes: 1.5 })[0]).toMatchObject({ path: 'freeStorageSpaceInBytes', expected: expect.stringContaining('Edm.Int64') });
    });

    it('honours @odata.type of nested values: assignment targets are abstract', () => {
      const body = { assignments: [{ target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: '5f0c5b1e-2a0e-4c52-8d1a-7b2f0e8a9c31' } }, { target: { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } }] };
      expect(checkActionBody('v1.0', 'microsoft.graph.iosGeneralDeviceConfiguration', 'assign', body)).toEqual([]);
      expect(checkActionBody('v1.0', 'microsoft.graph.deviceConfiguration', 'assign', { assignments: [{ target: { groupId: 'x' } }] })).toEqual([
        { path: 'assignments[0].target.@odata.type', expected: 'a concrete type derived from abstract microsoft.graph.deviceAndAppManagementAssignmentTarget', got: 'none' },
      ]);
      expect(checkActionBody('v1.0', 'microsoft.graph.deviceConfiguration', 'assign', { assignments: [{ target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupid: 'x' } }] })).toEqual([
        { path: 'assignments[0].target.groupid', expected: 'a property of microsoft.graph.groupAssignmentTarget (did you mean "groupId"?)', got: 'unknown property "groupid"' },
      ]);
    });

    it('checks action parameters (wipe) and knows which actions exist', () => {
      expect(checkActionBody('v1.0', 'microsoft.graph.managedDevice', 'wipe', { keepEnrollmentData: false, keepUserData: false })).toEqual([]);
      expect(checkActionBody('v1.0', 'microsoft.graph.managedDevice', 'wipe', { keepUserData: 'yes', keepUserDta: true })).toEqual([
        { path: 'keepUserData', expected: 'Edm.Boolean', got: 'string "yes"' },
        { path: 'keepUserDta', expected: 'a parameter of wipe (keepEnrollmentData, keepUserData, macOsUnlockCode, persistEsimDataPlan); did you mean "keepUserData"?', got: 'unknown parameter "keepUserDta"' },
      ]);
      expect(checkActionBody('v1.0', 'microsoft.graph.managedDevice', 'remoteLock', {})).toEqual([]);
      expect(checkActionBody('v1.0', 'microsoft.graph.managedDevice', 'selfDestruct', {})).toBeUndefined();
    });
  });

  describe('beta', () => {
    const owner = {
      '@odata.type': '#microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration',
      displayName: 'emmctl:kiosk:android',
      passwordRequiredType: 'numeric',
      passwordMinimumLength: 6,
      cameraBlocked: true,
      screenCaptureBlocked: true,
      roleScopeTagIds: ['0'],
    };

    it('accepts a fully managed Android configuration by name along its BaseType chain', () => {
      expect(checkBody('beta', 'microsoft.graph.deviceConfiguration', owner)).toEqual([]);
    });

    it('refuses a misspelled field on a beta-only type', () => {
      expect(checkBody('beta', 'microsoft.graph.deviceConfiguration', { ...owner, cameraBlockd: true })).toEqual([
        { path: 'cameraBlockd', expected: 'a property of microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration (did you mean "cameraBlocked"?)', got: 'unknown property "cameraBlockd"' },
      ]);
    });

    it('checks values where v1.0 declares the property, with the beta enum members', () => {
      // displayName is declared (Edm.String) on deviceConfiguration in v1.0.
      expect(checkBody('beta', 'microsoft.graph.deviceConfiguration', { ...owner, displayName: 7 })).toEqual([{ path: 'displayName', expected: 'Edm.String', got: 'number 7' }]);
      // remoteLock is a beta member of deviceComplianceActionType, not a v1.0 one.
      const lock = structuredClone(compliance);
      lock.scheduledActionsForRule[0]!.scheduledActionConfigurations.push({ actionType: 'remoteLock', gracePeriodHours: 72 } as never);
      expect(checkBody('beta', 'microsoft.graph.deviceCompliancePolicy', lock)).toEqual([]);
      expect(checkBody('v1.0', 'microsoft.graph.deviceCompliancePolicy', lock)).toHaveLength(1);
      lock.scheduledActionsForRule[0]!.scheduledActionConfigurations[2] = { actionType: 'selfDestruct', gracePeriodHours: 1 } as never;
      expect(checkBody('beta', 'microsoft.graph.deviceCompliancePolicy', lock)[0]).toMatchObject({ path: 'scheduledActionsForRule[0].scheduledActionConfigurations[2].actionType', got: 'string "selfDestruct"' });
    });

    it('accepts the beta enrollment profile and refuses an unknown property on it', () => {
      const profile = { '@odata.type': '#microsoft.graph.androidDeviceOwnerEnrollmentProfile', displayName: 'emmctl:kiosk', enrollmentMode: 'corporateOwnedDedicatedDevice', description: 'x' };
      expect(checkBody('beta', 'microsoft.graph.androidDeviceOwnerEnrollmentProfile', profile)).toEqual([]);
      expect(checkBody('beta', 'microsoft.graph.androidDeviceOwnerEnrollmentProfile', { ...profile, wifiSsd: 'x' })[0]).toMatchObject({ path: 'wifiSsd', got: 'unknown property "wifiSsd"' });
    });

    it('refuses a beta-only type whose BaseType it does not know, instead of checking only its own properties', () => {
      expect(checkBody('beta', 'microsoft.graph.deviceConfiguration', { '@odata.type': '#microsoft.graph.androidForWorkGeneralDeviceConfiguration', displayName: 'x' })).toEqual([
        { path: '@odata.type', expected: 'a beta type with a known BaseType (add it to BETA_ONLY_BASES)', got: 'string "#microsoft.graph.androidForWorkGeneralDeviceConfiguration"' },
      ]);
    });

    it('names an unknown @odata.type instead of guessing', () => {
      expect(checkBody('beta', 'microsoft.graph.deviceConfiguration', { '@odata.type': '#microsoft.graph.noSuchConfiguration' })).toEqual([
        { path: '@odata.type', expected: 'a type Graph beta defines (derived from microsoft.graph.deviceConfiguration)', got: 'string "#microsoft.graph.noSuchConfiguration"' },
      ]);
    });
  });
});
