// Compiles schema/emmctl.schema.json into standalone validation code with ajv at build time,
// so `emmctl validate` neither loads ajv's compiler nor compiles the schema on every run
// (the compiler alone costs more start-up than parsing a whole policy repo).
// scripts/build.mjs serves the code as the virtual module `emmctl:schema-validator`.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import standaloneCode from 'ajv/dist/standalone/index.js';

export const AJV_OPTIONS = { allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true };

export function generateValidatorCode(schema = JSON.parse(readFileSync(new URL('../schema/emmctl.schema.json', import.meta.url), 'utf8'))) {
  const Ajv = Ajv2020.default ?? Ajv2020;
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true, optimize: true } });
  const validate = ajv.compile(schema);
  return (standaloneCode.default ?? standaloneCode)(ajv, validate);
}
