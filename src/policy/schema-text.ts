// The schema as shipped, byte for byte (schema/emmctl.schema.json is written by JSON.stringify
// with two-space indent and a final newline; test/policy checks `emmctl schema` against the file).
import schemaJson from '../../schema/emmctl.schema.json' with { type: 'json' };

export function schemaText(): string {
  return `${JSON.stringify(schemaJson, null, 2)}\n`;
}
