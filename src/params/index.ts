/**
 * Public surface of the parameter database (other folders import only this file).
 * Data: ./parameters.json, generated from Bronkhorst's MIT-licensed bronkhorst-propar
 * database by scripts/build-params.ts.
 */
export type { EnumEntry, ParamDef, ParamRef, ParamSearchHit, ParamValue, ParamVariant } from './types.js';
export {
  CHANNEL_PROCESSES,
  MAX_CHANNELS,
  forChannel,
  MAX_SEARCH_CHARS,
  PARAMS_SOURCE,
  allParams,
  findParam,
  normaliseText,
  paramByAddress,
  paramByDde,
  paramsByAddress,
  resolveParam,
  searchParams,
  suggestParams,
  valueTypeFor,
} from './db.js';
export { type InstrumentRange, type ValidateOptions, MAX_VARIABLE_LENGTH, bitLabels, enumLabel, enumValue, validateValue } from './values.js';
