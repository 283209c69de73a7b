// Secrets on the way out: export writes a secret field back as a `${env:NAME}` reference,
// never its value, under a name derived from where it sits.

/** An environment variable name for an exported secret: POLICY_CORP_WIFI_WIFI_0_PASSWORD. */
export function secretEnvName(kind: string, name: string, path: string): string {
  const tail = path.replace(/^spec\.(settings\.)?/, '');
  return `${kind}_${name}_${tail}`.replace(/[^A-Za-z0-9]+/g, '_').replace(/_+$/, '').toUpperCase();
}
