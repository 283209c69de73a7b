// The parts of Google's Android Management API (v1) wire format the Android channel writes and
// reads, as TypeScript types. Field names and enum values are Google's (the discovery document,
// enterprises.policies / enterprises.devices); only the members emmctl uses are declared. The
// tests check every body built with these against Google's published schema, so a name typed
// wrong here fails there.

export type PasswordQuality = 'PASSWORD_QUALITY_UNSPECIFIED' | 'SOMETHING' | 'NUMERIC' | 'NUMERIC_COMPLEX' | 'ALPHABETIC' | 'ALPHANUMERIC' | 'COMPLEX';
export type PasswordScope = 'SCOPE_DEVICE' | 'SCOPE_PROFILE';

export interface PasswordRequirements {
  passwordScope: PasswordScope;
  passwordQuality?: PasswordQuality;
  passwordMinimumLength?: number;
  maximumFailedPasswordsForWipe?: number;
  /** google-duration: "<seconds>s". */
  passwordExpirationTimeout?: string;
  passwordHistoryLength?: number;
}

export interface ApplicationPolicy {
  packageName: string;
  installType: 'FORCE_INSTALLED' | 'BLOCKED';
}

/** One Wi-Fi network in Open Network Configuration, the subset AMAPI accepts. */
export interface OncWifiNetwork {
  GUID: string;
  Name: string;
  Type: 'WiFi';
  WiFi: {
    SSID: string;
    Security: 'None' | 'WPA-PSK';
    Passphrase?: string;
    HiddenSSID?: boolean;
    AutoConnect?: boolean;
  };
}

export interface SystemUpdate {
  type: 'AUTOMATIC' | 'WINDOWED' | 'POSTPONE';
  /** Minutes after local midnight, 0–1439 (WINDOWED). */
  startMinutes?: number;
  endMinutes?: number;
}

export interface AmapiPolicy {
  passwordPolicies?: PasswordRequirements[];
  /** Milliseconds, an int64 as a decimal string. */
  maximumTimeToLock?: string;
  encryptionPolicy?: 'ENABLED_WITHOUT_PASSWORD';
  cameraAccess?: 'CAMERA_ACCESS_USER_CHOICE' | 'CAMERA_ACCESS_DISABLED';
  screenCaptureDisabled?: boolean;
  bluetoothDisabled?: boolean;
  deviceConnectivityManagement?: { usbDataAccess: 'ALLOW_USB_DATA_TRANSFER' | 'DISALLOW_USB_FILE_TRANSFER' };
  applications?: ApplicationPolicy[];
  alwaysOnVpnPackage?: { packageName: string; lockdownEnabled: boolean };
  openNetworkConfiguration?: { Type: 'UnencryptedConfiguration'; NetworkConfigurations: OncWifiNetwork[] };
  systemUpdate?: SystemUpdate;
  statusReportingSettings: { softwareInfoEnabled: true; deviceSettingsEnabled: true; applicationReportsEnabled: true };
  playStoreMode: 'BLACKLIST';
}
