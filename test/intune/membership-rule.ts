// Entra ID dynamic membership rules for device groups, as the fake tenant evaluates them:
// `(device.deviceOSType -eq "iPhone") -and (device.deviceOwnership -eq "Company")`.
// A rule naming a property Entra has no device rule for, or an operator it lacks, is refused at
// group creation the way Entra refuses it, so a client cannot write rules that never match.

/** The device properties Entra dynamic device-group rules may use. */
export const DEVICE_RULE_PROPERTIES = [
  'accountEnabled', 'displayName', 'deviceOSType', 'deviceOSVersion', 'deviceCategory', 'deviceManufacturer',
  'deviceModel', 'deviceOwnership', 'enrollmentProfileName', 'isRooted', 'managementType', 'deviceId', 'objectId',
  'devicePhysicalIds', 'systemLabels', 'profileType', 'organizationalUnit',
  ...Array.from({ length: 15 }, (_, i) => `extensionAttribute${i + 1}`),
] as const;

const OPERATORS = ['-eq', '-ne', '-startsWith', '-notStartsWith', '-contains', '-notContains', '-match', '-notMatch', '-in', '-notIn', '-any', '-all'] as const;
type Op = (typeof OPERATORS)[number];

export type RuleNode =
  | { kind: 'and' | 'or'; left: RuleNode; right: RuleNode }
  | { kind: 'not'; operand: RuleNode }
  | { kind: 'cmp'; property: string; op: Op; value: string | boolean | string[] };

export class RuleError extends Error {}

/** Parses a rule; throws RuleError naming what is wrong. */
export function parseRule(src: string): RuleNode {
  const toks: Array<{ v: string; quoted?: boolean; list?: string[] }> = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      toks.push({ v: c });
      i++;
      continue;
    }
    if (c === '"') {
      const end = src.indexOf('"', i + 1);
      if (end < 0) throw new RuleError(`unterminated string at position ${i}`);
      toks.push({ v: src.slice(i + 1, end), quoted: true });
      i = end + 1;
      continue;
    }
    if (c === '[') {
      const end = src.indexOf(']', i + 1);
      if (end < 0) throw new RuleError(`unterminated list at position ${i}`);
      const inner = src.slice(i + 1, end).trim();
      const list = inner === '' ? [] : inner.split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
      toks.push({ v: '[list]', list });
      i = end + 1;
      continue;
    }
    const m = /^[^\s()"[\]]+/.exec(src.slice(i))!;
    toks.push({ v: m[0] });
    i += m[0].length;
  }
  let p = 0;
  const next = () => {
    const t = toks[p++];
    if (!t) throw new RuleError('unexpected end of rule');
    return t;
  };
  const primary = (): RuleNode => {
    const t = next();
    if (t.v === '(' && !t.quoted) {
      const e = or();
      const close = next();
      if (close.v !== ')') throw new RuleError(`expected ')' but found '${close.v}'`);
      return e;
    }
    if (!t.quoted && t.v.toLowerCase() === '-not') return { kind: 'not', operand: primary() };
    const pm = /^device\.(\w+)$/.exec(t.v);
    if (!pm || t.quoted) throw new RuleError(`expected device.<property> but found '${t.v}'`);
    const property = pm[1]!;
    if (!(DEVICE_RULE_PROPERTIES as readonly string[]).includes(property)) throw new RuleError(`unsupported device property '${property}'`);
    const opTok = next();
    const op = OPERATORS.find((o) => o.toLowerCase() === opTok.v.toLowerCase());
    if (!op) throw new RuleError(`unsupported operator '${opTok.v}'`);
    const vt = next();
    let value: string | boolean | string[];
    if (vt.list) value = vt.list;
    else if (vt.quoted) value = vt.v;
    else if (vt.v === 'true' || vt.v === 'false') value = vt.v === 'true';
    else throw new RuleError(`expected a quoted value after ${op} but found '${vt.v}'`);
    if ((op === '-in' || op === '-notIn') !== Array.isArray(value)) throw new RuleError(`${op} ${Array.isArray(value) ? 'does not take' : 'takes'} a list`);
    if (op === '-match' || op === '-notMatch') {
      try {
        new RegExp(String(value));
      } catch {
        throw new RuleError(`invalid regular expression "${String(value)}"`);
      }
    }
    return { kind: 'cmp', property, op, value };
  };
  const and = (): RuleNode => {
    let left = primary();
    while (toks[p] && !toks[p]!.quoted && toks[p]!.v.toLowerCase() === '-and') {
      p++;
      left = { kind: 'and', left, right: primary() };
    }
    return left;
  };
  const or = (): RuleNode => {
    let left = and();
    while (toks[p] && !toks[p]!.quoted && toks[p]!.v.toLowerCase() === '-or') {
      p++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  if (toks.length === 0) throw new RuleError('empty rule');
  const e = or();
  if (p < toks.length) throw new RuleError(`unexpected '${toks[p]!.v}'`);
  return e;
}

/** Whether an Entra device (its rule properties) satisfies the rule; string comparisons ignore case as Entra's do. */
export function evaluateRule(node: RuleNode, device: Record<string, unknown>): boolean {
  switch (node.kind) {
    case 'and':
      return evaluateRule(node.left, device) && evaluateRule(node.right, device);
    case 'or':
      return evaluateRule(node.left, device) || evaluateRule(node.right, device);
    case 'not':
      return !evaluateRule(node.operand, device);
    case 'cmp': {
      const raw = device[node.property];
      const v = typeof raw === 'string' ? raw.toLowerCase() : raw;
      const want = typeof node.value === 'string' ? node.value.toLowerCase() : node.value;
      switch (node.op) {
        case '-eq': return v === want;
        case '-ne': return v !== want;
        case '-startsWith': return typeof v === 'string' && v.startsWith(String(want));
        case '-notStartsWith': return !(typeof v === 'string' && v.startsWith(String(want)));
        case '-contains': return typeof v === 'string' && v.includes(String(want));
        case '-notContains': return !(typeof v === 'string' && v.includes(String(want)));
        case '-match': return typeof raw === 'string' && new RegExp(String(node.value), 'i').test(raw);
        case '-notMatch': return !(typeof raw === 'string' && new RegExp(String(node.value), 'i').test(raw));
        case '-in': return (node.value as string[]).some((x) => x.toLowerCase() === v);
        case '-notIn': return !(node.value as string[]).some((x) => x.toLowerCase() === v);
        case '-any':
        case '-all': {
          const list = Array.isArray(raw) ? raw.map((x) => String(x).toLowerCase()) : [];
          return node.op === '-any' ? list.includes(String(want)) : list.length > 0 && list.every((x) => x === String(want));
        }
      }
    }
  }
}
