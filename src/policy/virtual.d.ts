// Served by scripts/build.mjs: the schema compiled to standalone ajv code at build time.
declare module 'emmctl:schema-validator' {
  import type { ValidateFunction } from 'ajv';
  const validate: ValidateFunction;
  export default validate;
}
