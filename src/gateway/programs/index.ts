/** Setpoint programs (hold, ramp, wait) over the gateway's validated write path. */
export { Programs, type ProgramsOptions } from './runner.js';
export { jsonProgramFile, noProgramFile, type ProgramFile } from './file.js';
export * from './spec.js';
export * from './view.js';
