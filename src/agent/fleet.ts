// The simulated fleet: who each device is and what it reports, derived from (seed, index) alone.
// Deriving each device from its own index (not from one stream over the whole fleet) means
// `--devices 200` after `--devices 100` keeps the first 100 exactly as they were and adds 100.
// The mix is meant to look like a real mid-size company: mostly current, some stragglers on old
// OS versions or patch levels, a few with encryption or passcode off, a couple rooted, some missing
// the required apps and a few with blocked apps installed.
import type { Posture } from '../model/fleet.js';
import type { Ownership, Platform } from '../model/policy.generated.js';

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG; plenty for simulation (not for secrets). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit hash of the parts (FNV-1a), to seed one PRNG per device or per command. */
export function hashSeed(...parts: Array<string | number>): number {
  let h = 0x811c9dc5;
  for (const ch of parts.join('\u0000')) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export interface SimulatedDevice {
  index: number;
  serial: string;
  name: string;
  platform: Platform;
  ownership: Ownership;
  owner: string;
  model: string;
  /** For corporate devices, the department the purchase record names (pre-registered with it as a label). */
  department: string;
  /** The posture it reports, without appliedConfigVersion (that comes from the last check-in). */
  posture: Omit<Posture, 'appliedConfigVersion'>;
}

type Weighted<T> = ReadonlyArray<readonly [T, number]>;

function pick<T>(random: () => number, items: Weighted<T>): T {
  const total = items.reduce((s, [, w]) => s + w, 0);
  let r = random() * total;
  for (const [item, w] of items) {
    r -= w;
    if (r < 0) return item;
  }
  return items[items.length - 1]![0];
}

const chance = (random: () => number, p: number) => random() < p;

const PLATFORMS: Weighted<Platform> = [['android', 34], ['ios', 26], ['windows', 20], ['macos', 12], ['ipados', 8]];

/** Share of personally owned (BYOD) devices per platform. */
const PERSONAL_SHARE: Record<Platform, number> = { android: 0.35, ios: 0.35, ipados: 0.15, windows: 0.08, macos: 0.1 };

const MODELS: Record<Platform, Weighted<string>> = {
  android: [['Pixel 9', 6], ['Pixel 8', 8], ['Pixel 7a', 5], ['Galaxy S24', 8], ['Galaxy S23', 6], ['Galaxy A54', 7], ['Galaxy XCover7', 3], ['moto g84', 3]],
  ios: [['iPhone 16', 6], ['iPhone 15', 9], ['iPhone 14', 7], ['iPhone 13', 5], ['iPhone SE (3rd generation)', 4]],
  ipados: [['iPad (10th generation)', 5], ['iPad Air (M2)', 4], ['iPad Pro 11-inch (M4)', 2], ['iPad mini (A17 Pro)', 2]],
  windows: [['ThinkPad T14 Gen 4', 7], ['Latitude 5440', 6], ['Surface Laptop 6', 4], ['EliteBook 840 G10', 5], ['OptiPlex 7010', 3]],
  macos: [['MacBook Air (M3)', 6], ['MacBook Pro 14-inch (M3)', 4], ['MacBook Air (M2)', 4], ['Mac mini (M2)', 1]],
};

/** OS versions with their weights: current releases dominate, a tail is out of date. */
const OS_VERSIONS: Record<Platform, Weighted<string>> = {
  android: [['15', 32], ['14', 38], ['13', 21], ['12', 6], ['11', 3]],
  ios: [['18.1', 34], ['18.0.1', 16], ['17.6.1', 28], ['17.2', 13], ['16.7.10', 6], ['15.8.3', 3]],
  ipados: [['18.1', 34], ['17.6.1', 38], ['17.1', 18], ['16.7.10', 10]],
  windows: [['10.0.26100', 27], ['10.0.22631', 42], ['10.0.19045', 26], ['10.0.19044', 5]],
  macos: [['15.1', 38], ['14.7', 38], ['14.2', 17], ['13.7.1', 7]],
};

/** Android security patch levels: most within a few months, a tail far behind. */
const PATCH_LEVELS: Weighted<string> = [['2024-11-05', 28], ['2024-10-01', 27], ['2024-09-05', 18], ['2024-07-01', 15], ['2024-03-01', 6], ['2023-11-01', 4], ['2023-05-05', 2]];

/** Apps every device of a platform has out of the box (system apps). */
const SYSTEM_APPS: Record<Platform, string[]> = {
  android: ['com.android.chrome', 'com.google.android.gm', 'com.google.android.apps.maps'],
  ios: ['com.apple.mobilesafari', 'com.apple.mobilemail', 'com.apple.Maps'],
  ipados: ['com.apple.mobilesafari', 'com.apple.mobilemail', 'com.apple.Maps'],
  windows: ['Microsoft.WindowsTerminal_8wekyb3d8bbwe', 'Microsoft.WindowsNotepad_8wekyb3d8bbwe'],
  macos: ['com.apple.Safari', 'com.apple.mail'],
};

/**
 * The corporate apps: installed on most devices, missing on some (a new hire, a BYOD user who
 * skipped the store). App ids follow each platform's convention.
 */
const CORPORATE_APPS: Record<Platform, string[]> = {
  android: ['com.microsoft.teams', 'com.microsoft.office.outlook', 'com.microsoft.windowsintune.companyportal'],
  ios: ['com.microsoft.skype.teams', 'com.microsoft.Office.Outlook', 'com.microsoft.CompanyPortal'],
  ipados: ['com.microsoft.skype.teams', 'com.microsoft.Office.Outlook', 'com.microsoft.CompanyPortal'],
  windows: ['MSTeams_8wekyb3d8bbwe', 'Microsoft.OutlookForWindows_8wekyb3d8bbwe', 'Microsoft.CompanyPortal_8wekyb3d8bbwe'],
  macos: ['com.microsoft.teams2', 'com.microsoft.Outlook', 'com.microsoft.CompanyPortalMac'],
};

/** Apps policies commonly block; a few devices have one installed. */
const RISKY_APPS: Record<Platform, string[]> = {
  android: ['com.termux', 'com.zhiliaoapp.musically', 'com.teamviewer.quicksupport.market', 'org.torproject.torbrowser'],
  ios: ['com.zhiliaoapp.musically', 'com.teamviewer.rc', 'com.dropbox.Dropbox'],
  ipados: ['com.zhiliaoapp.musically', 'com.teamviewer.rc'],
  windows: ['TeamViewer.TeamViewer', 'uTorrent.uTorrent', 'Dropbox.Dropbox'],
  macos: ['com.teamviewer.TeamViewer', 'org.torproject.torbrowser', 'com.dropbox.Dropbox'],
};

const FIRST = ['ana', 'ben', 'carla', 'david', 'elena', 'farid', 'grace', 'hugo', 'ines', 'jamal', 'kira', 'liam', 'maria', 'nils', 'olga', 'pedro', 'qiu', 'rosa', 'sam', 'tariq', 'uma', 'victor', 'wen', 'ximena', 'yusuf', 'zoe', 'amir', 'bea', 'chen', 'dana', 'emil', 'fatima', 'goran', 'hana', 'ivan', 'julia', 'kofi', 'lena', 'marco', 'nadia'];
const LAST = ['silva', 'novak', 'okafor', 'schmidt', 'tanaka', 'haddad', 'kowalski', 'moreau', 'garcia', 'nguyen', 'larsen', 'rossi', 'petrov', 'ibrahim', 'jensen', 'kim', 'fischer', 'costa', 'murphy', 'sato', 'ahmed', 'berg', 'lopez', 'meyer', 'ward'];

const DEPARTMENTS: Weighted<string> = [['engineering', 30], ['sales', 25], ['operations', 15], ['support', 12], ['finance', 10], ['hr', 8]];

const SERIAL_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';

/** Serial numbers look like each vendor's, and stay unique: the index is encoded in them. */
function serialFor(platform: Platform, seed: number, index: number, random: () => number): string {
  const prefix = { android: 'R5C', ios: 'F2L', ipados: 'DMP', windows: 'PF4', macos: 'C02' }[platform];
  const seedPart = (seed >>> 0).toString(36).toUpperCase().padStart(2, '0').slice(-2);
  let tail = '';
  for (let i = 0; i < 3; i++) tail += SERIAL_ALPHABET[Math.floor(random() * SERIAL_ALPHABET.length)];
  return `${prefix}${seedPart}${index.toString(36).toUpperCase().padStart(4, '0')}${tail}`;
}

export function simulatedDevice(seed: number, index: number): SimulatedDevice {
  const random = mulberry32(hashSeed('device', seed, index));
  const platform = pick(random, PLATFORMS);
  const ownership: Ownership = chance(random, PERSONAL_SHARE[platform]) ? 'personal' : 'corporate';
  const first = FIRST[Math.floor(random() * FIRST.length)]!;
  const last = LAST[Math.floor(random() * LAST.length)]!;
  const owner = `${first}.${last}@example.com`;
  const model = pick(random, MODELS[platform]);
  const osVersion = pick(random, OS_VERSIONS[platform]);
  const serial = serialFor(platform, seed, index, random);
  const mobile = platform === 'android' || platform === 'ios' || platform === 'ipados';
  // Apple mobile storage is encrypted whenever a passcode is set; others can have it off.
  const passcodeSet = !chance(random, ownership === 'personal' ? 0.05 : 0.02);
  const encrypted = platform === 'ios' || platform === 'ipados' ? passcodeSet : !chance(random, platform === 'android' ? 0.02 : 0.04);
  const compromised = mobile && chance(random, platform === 'android' ? 0.025 : 0.012);
  const installedApps = [...SYSTEM_APPS[platform]];
  // Corporate devices get the apps pushed; personal ones depend on the user.
  const missingChance = ownership === 'personal' ? 0.12 : 0.04;
  for (const app of CORPORATE_APPS[platform]) if (!chance(random, missingChance)) installedApps.push(app);
  if (chance(random, ownership === 'personal' ? 0.08 : 0.03)) installedApps.push(RISKY_APPS[platform][Math.floor(random() * RISKY_APPS[platform].length)]!);
  const posture: SimulatedDevice['posture'] = { osVersion, model, serial, encrypted, passcodeSet, compromised, installedApps };
  if (platform === 'android') posture.patchLevel = pick(random, PATCH_LEVELS);
  const slug = model.toLowerCase().replace(/\(.*?\)/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const name = platform === 'windows' ? `LT-${serial.slice(-7)}` : `${first}-${slug}`;
  // Drawn last, so adding it left every earlier attribute of a seeded device unchanged.
  const department = pick(random, DEPARTMENTS);
  return { index, serial, name, platform, ownership, owner, model, department, posture };
}

/**
 * How a simulated device answers a command: mostly it works; a small share fails with a reason.
 * Decided by (seed, device, command type) rather than by the server's random command id, so a
 * given fleet behaves the same on every run: the device whose lock fails keeps failing it.
 */
export function commandOutcome(seed: number, serial: string, type: string): { status: 'acknowledged' | 'failed'; detail?: string } {
  const random = mulberry32(hashSeed('command', seed, serial, type));
  if (random() >= 0.05) return { status: 'acknowledged' };
  const reasons: Record<string, string[]> = {
    lock: ['device admin permission revoked by the user', 'lock screen policy rejected by the OS'],
    reboot: ['reboot postponed by the user (active call)', 'reboot not supported on this device'],
    wipe: ['factory reset protection blocked the wipe', 'wipe failed: storage busy'],
    retire: ['work profile removal failed: profile busy', 'managed apps could not be removed'],
  };
  const list = reasons[type] ?? ['command not supported by the agent'];
  return { status: 'failed', detail: list[Math.floor(random() * list.length)] };
}
