// AMAPI bodies as Google's service sends and takes them, written from the reference
// documentation's field descriptions (enterprises.devices, enterprises.policies,
// enterprises.enrollmentTokens, operations): what a fake server answers and what the posture
// mapper reads. Builders return fresh objects, so a test can spoil one without touching another.

export const ENTERPRISE = 'enterprises/LC0123abcd';

/** A company-owned, fully managed phone that reports everything a compiled policy asks for. */
export function amapiDevice(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `${ENTERPRISE}/devices/3a8f20c1b7d4e5f6`,
    managementMode: 'DEVICE_OWNER',
    state: 'ACTIVE',
    appliedState: 'ACTIVE',
    ownership: 'COMPANY_OWNED',
    policyName: `${ENTERPRISE}/policies/emmctl-r1-fm-0123456789abcdef`,
    appliedPolicyName: `${ENTERPRISE}/policies/emmctl-r1-fm-0123456789abcdef`,
    appliedPolicyVersion: '3',
    apiLevel: 34,
    enrollmentTime: '2026-02-20T09:15:00.123Z',
    enrollmentTokenName: `${ENTERPRISE}/enrollmentTokens/Zy5Qm1x`,
    enrollmentTokenData: '{"profile":"corp-android","labels":{"team":"sales"}}',
    lastStatusReportTime: '2026-03-01T11:40:02.5Z',
    lastPolicySyncTime: '2026-03-01T11:39:58Z',
    lastPolicyComplianceReportTime: '2026-03-01T11:40:01Z',
    policyCompliant: true,
    softwareInfo: {
      androidVersion: '14',
      androidDevicePolicyVersionCode: 91230,
      androidDevicePolicyVersionName: '91.23.0',
      androidBuildNumber: 'AP1A.240405.002',
      deviceKernelVersion: '5.15.123-android14',
      bootloaderVersion: 'slider-1.3-1234567',
      androidBuildTime: '2024-04-05T00:00:00Z',
      securityPatchLevel: '2026-02-05',
      primaryLanguageCode: 'en-US',
      deviceBuildSignature: 'b2a8c4e1',
      systemUpdateInfo: { updateStatus: 'UP_TO_DATE' },
    },
    hardwareInfo: {
      brand: 'google',
      hardware: 'husky',
      deviceBasebandVersion: 'g5300q-240307-240321-B-11602385',
      manufacturer: 'Google',
      serialNumber: '36051FDJH000AB',
      model: 'Pixel 8 Pro',
      enterpriseSpecificId: 'EZKX4QWPB2R9TD7M',
    },
    deviceSettings: {
      isDeviceSecure: true,
      unknownSourcesEnabled: false,
      developmentSettingsEnabled: false,
      adbEnabled: false,
      isEncrypted: true,
      encryptionStatus: 'ACTIVE_PER_USER',
      verifyAppsEnabled: true,
    },
    securityPosture: { devicePosture: 'SECURE', postureDetails: [] },
    applicationReports: [
      { packageName: 'com.google.android.apps.work.clouddpc', versionName: '91.23.0', versionCode: 91230, state: 'INSTALLED', applicationSource: 'INSTALLED_FROM_PLAY_STORE', userFacingType: 'NOT_USER_FACING' },
      { packageName: 'com.microsoft.teams', versionName: '1416/1.0.0.2024', versionCode: 2024040101, state: 'INSTALLED', applicationSource: 'INSTALLED_FROM_PLAY_STORE', installerPackageName: 'com.android.vending', userFacingType: 'USER_FACING' },
      { packageName: 'com.example.old', versionName: '2.0', versionCode: 20, state: 'REMOVED', applicationSource: 'APPLICATION_SOURCE_UNSPECIFIED' },
    ],
    nonComplianceDetails: [],
    memoryInfo: { totalRam: '12884901888', totalInternalStorage: '137438953472' },
    networkInfo: { imei: '353456789012345', wifiMacAddress: '02:00:00:00:00:00', networkOperatorName: 'Carrier' },
    previousDeviceNames: [],
    user: { accountIdentifier: 'ana' },
    userName: `${ENTERPRISE}/users/112233445566778899`,
    ...over,
  };
}

/** A personally owned phone with a work profile (no serial, no hardware status). */
export function workProfileDevice(over: Record<string, unknown> = {}): Record<string, unknown> {
  const d = amapiDevice({ managementMode: 'PROFILE_OWNER', ownership: 'PERSONALLY_OWNED', ...over });
  (d.hardwareInfo as Record<string, unknown>).serialNumber = 'EZKX4QWPB2R9TD7M';
  return d;
}

/** A policy as Google stores it: what enterprises.policies.patch answers (name and version added). */
export function amapiPolicy(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `${ENTERPRISE}/policies/emmctl-r1-fm-0123456789abcdef`,
    version: '4',
    passwordPolicies: [{ passwordScope: 'SCOPE_DEVICE', passwordQuality: 'NUMERIC_COMPLEX', passwordMinimumLength: 6, maximumFailedPasswordsForWipe: 10, passwordExpirationTimeout: '7776000s', passwordHistoryLength: 3 }],
    maximumTimeToLock: '300000',
    encryptionPolicy: 'ENABLED_WITHOUT_PASSWORD',
    cameraAccess: 'CAMERA_ACCESS_DISABLED',
    screenCaptureDisabled: true,
    bluetoothDisabled: false,
    deviceConnectivityManagement: { usbDataAccess: 'DISALLOW_USB_FILE_TRANSFER' },
    applications: [
      { packageName: 'com.microsoft.teams', installType: 'FORCE_INSTALLED' },
      { packageName: 'com.example.game', installType: 'BLOCKED' },
    ],
    alwaysOnVpnPackage: { packageName: 'com.cisco.anyconnect.vpn.android.avf', lockdownEnabled: true },
    openNetworkConfiguration: {
      NetworkConfigurations: [{ GUID: 'corp-wifi', Name: 'Corp', Type: 'WiFi', WiFi: { SSID: 'Corp', Security: 'WPA-PSK', Passphrase: 'correct horse battery', AutoConnect: true } }],
    },
    systemUpdate: { type: 'WINDOWED', startMinutes: 120, endMinutes: 240 },
    statusReportingSettings: { softwareInfoEnabled: true, deviceSettingsEnabled: true, applicationReportsEnabled: true },
    playStoreMode: 'BLACKLIST',
    ...over,
  };
}

/** An enrollment token as enterprises.enrollmentTokens.create answers it. */
export function amapiEnrollmentToken(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `${ENTERPRISE}/enrollmentTokens/Zy5Qm1x`,
    value: 'QWERTYUIOPASDFGHJKLZ',
    duration: '86400s',
    expirationTimestamp: '2026-03-02T12:00:00Z',
    policyName: `${ENTERPRISE}/policies/emmctl-r1-fm-0123456789abcdef`,
    additionalData: '{"profile":"corp-android"}',
    oneTimeOnly: true,
    allowPersonalUsage: 'PERSONAL_USAGE_DISALLOWED',
    qrCode: '{"android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME":"com.google.android.apps.work.clouddpc/.receivers.CloudDeviceAdminReceiver","android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE":{"com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN":"QWERTYUIOPASDFGHJKLZ"}}',
    ...over,
  };
}

/** A finished issueCommand operation (LOCK), as operations.get answers it. */
export function amapiOperation(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `${ENTERPRISE}/devices/3a8f20c1b7d4e5f6/operations/1700000000000`,
    metadata: {
      '@type': 'type.googleapis.com/google.android.devicemanagement.v1.Command',
      type: 'LOCK',
      createTime: '2026-03-01T11:50:00Z',
      duration: '600s',
      userName: `${ENTERPRISE}/users/112233445566778899`,
    },
    done: true,
    response: { '@type': 'type.googleapis.com/google.protobuf.Empty' },
    ...over,
  };
}
