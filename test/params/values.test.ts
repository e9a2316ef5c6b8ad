import { describe, expect, it } from 'vitest';
import { type GatewayError, isGatewayError } from '../../src/shared/index.js';
import { bitLabels, enumLabel, enumValue, paramByDde, validateValue } from '../../src/params/index.js';

function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

describe('enumValue / enumLabel', () => {
  it('maps control mode labels, aliases and numbers (case/punctuation-insensitive)', () => {
    expect(enumValue('controlMode', 'close valve')).toBe(3);
    expect(enumValue('controlMode', 'Close Valve')).toBe(3);
    expect(enumValue('controlMode', 'valve closed')).toBe(3);
    expect(enumValue('controlMode', 'VALVE-CLOSED')).toBe(3);
    expect(enumValue('controlMode', 'purge')).toBe(8);
    expect(enumValue('controlMode', 'setpoint 100%')).toBe(7);
    expect(enumValue('controlMode', 'setpoint = 100%')).toBe(7);
    expect(enumValue('controlMode', 'setpoint 0%')).toBe(12);
    expect(enumValue('controlMode', 'bus')).toBe(0);
    expect(enumValue(12, 'setpoint = BUS setpoint')).toBe(0);
    expect(enumValue(12, 3)).toBe(3);
    expect(enumValue(12, '3')).toBe(3);
    expect(enumValue('alarmMode', 'off')).toBe(0);
  });

  it('throws PARAM_BAD_ENUM with the allowed values', () => {
    const e = thrown(() => enumValue('controlMode', 'fly'));
    expect(e.code).toBe('PARAM_BAD_ENUM');
    expect(e.details).toMatchObject({ param: 'controlMode', dde: 12, input: 'fly' });
    const allowed = e.details.allowed as Array<{ value: number; label: string }>;
    expect(allowed).toHaveLength(25);
    expect(allowed).toContainEqual({ value: 3, label: 'close valve' });
    expect(thrown(() => enumValue(12, 99)).code).toBe('PARAM_BAD_ENUM');
    expect(thrown(() => enumValue('fMeasure', 'x')).code).toBe('PARAM_BAD_ENUM');
  });

  it('refuses a label shared by several values', () => {
    // Calibration mode (DDE 58) calls seven different values "dmfc".
    const e = thrown(() => enumValue(58, 'dmfc'));
    expect(e.code).toBe('PARAM_BAD_ENUM');
    expect(e.message).toMatch(/ambiguous/);
  });

  it('labels values', () => {
    expect(enumLabel('controlMode', 3)).toBe('close valve');
    expect(enumLabel('controlMode', 200)).toBeUndefined();
    expect(enumLabel(175, 7)).toMatch(/^DMFC/);
    expect(enumLabel('fMeasure', 1)).toBeUndefined();
  });

  it('decodes Alarm Info bits', () => {
    expect(paramByDde(28)?.bits).toBe(true);
    expect(bitLabels('alarmInfo', 0)).toEqual([]);
    expect(bitLabels('alarmInfo', 0x05)).toEqual(['error present', 'minimum alarm']);
    expect(enumLabel('alarmInfo', 0x80)).toBe('hardware error');
    expect(enumLabel('alarmInfo', 0)).toBeUndefined();
    expect(enumValue('alarmInfo', 'maximum alarm')).toBe(0x08);
  });

  it('decodes packed fields of a bit-field parameter', () => {
    // Analog mode (DDE 53): low 6 bits = signal range, 0x40 = input disabled, 0x80 = output disabled.
    expect(bitLabels('analogMode', 0x43)).toEqual(['4...20 mA operation', 'Analog input disabled', 'Analog output enabled']);
    expect(bitLabels('controlMode', 3)).toEqual([]);
  });
});

describe('validateValue', () => {
  it('accepts numbers in range and returns them', () => {
    expect(validateValue('setpoint', 16000)).toBe(16000);
    expect(validateValue('setpoint', 0)).toBe(0);
    expect(validateValue('setpoint', 32767)).toBe(32767);
    expect(validateValue('fSetpoint', 12.5)).toBe(12.5);
    expect(validateValue('fSetpoint', -0)).toBe(0);
    expect(Object.is(validateValue('fSetpoint', -0), 0)).toBe(true);
    expect(validateValue('valveOutput', 16777215)).toBe(16777215);
    expect(validateValue('fluidsetIndex', 8)).toBe(8);
  });

  it('converts numeric text', () => {
    expect(validateValue('setpoint', '16000')).toBe(16000);
    expect(validateValue('fSetpoint', ' 1.5e1 ')).toBe(15);
    expect(validateValue('initReset', '0x40')).toBe(64);
  });

  it('refuses values out of range with the range in the details', () => {
    const e = thrown(() => validateValue('setpoint', 32768));
    expect(e.code).toBe('PARAM_INVALID_VALUE');
    expect(e.details).toMatchObject({ param: 'setpoint', dde: 9, expected: 'u16', min: 0, max: 32767 });
    expect(thrown(() => validateValue('setpoint', -1)).code).toBe('PARAM_INVALID_VALUE');
    expect(thrown(() => validateValue('fluidsetIndex', 9)).details).toMatchObject({ min: 0, max: 8 });
    expect(thrown(() => validateValue('temperature', 501)).code).toBe('PARAM_INVALID_VALUE');
    expect(thrown(() => validateValue('fSetpoint', 1e39)).code).toBe('PARAM_INVALID_VALUE');
  });

  it('refuses wrong types', () => {
    for (const bad of [null, undefined, true, {}, [], 'abc', '', Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(thrown(() => validateValue('setpoint', bad)).code, String(bad)).toBe('PARAM_INVALID_VALUE');
    }
    expect(thrown(() => validateValue('fSetpoint', Number.NaN)).code).toBe('PARAM_INVALID_VALUE');
    expect(thrown(() => validateValue('userTag', 42)).code).toBe('PARAM_INVALID_VALUE');
    expect(thrown(() => validateValue('userTag', new Uint8Array(2))).code).toBe('PARAM_INVALID_VALUE');
  });

  it('refuses non-integers for integer types, accepts them for floats', () => {
    const e = thrown(() => validateValue('setpoint', 1.5));
    expect(e.code).toBe('PARAM_INVALID_VALUE');
    expect(e.message).toMatch(/integer/);
    expect(thrown(() => validateValue('controlMode', '2.5')).code).toBe('PARAM_INVALID_VALUE');
    expect(validateValue('capacity', 1.25)).toBe(1.25);
  });

  it('converts enumeration names and accepts enumeration numbers', () => {
    expect(validateValue('controlMode', 'valve closed')).toBe(3);
    expect(validateValue('controlMode', 'Purge')).toBe(8);
    expect(validateValue('controlMode', 3)).toBe(3);
    expect(validateValue('controlMode', '3')).toBe(3);
    // A number in range is accepted even when the enumeration does not list it.
    expect(validateValue('controlMode', 30)).toBe(30);
  });

  it('refuses an unknown enumeration name and lists the allowed values', () => {
    const e = thrown(() => validateValue('controlMode', 'fly'));
    expect(e.code).toBe('PARAM_INVALID_VALUE');
    expect(e.details).toMatchObject({ param: 'controlMode', dde: 12, expected: 'u8' });
    expect(e.details.allowed).toContainEqual({ value: 3, label: 'close valve' });
  });

  it('refuses labels for bit-field parameters (a flag alone is not the whole value)', () => {
    expect(thrown(() => validateValue('analogMode', 'Analog input disabled')).code).toBe('PARAM_INVALID_VALUE');
    expect(validateValue('analogMode', 0x43)).toBe(0x43);
  });

  it('refuses read-only parameters unless allowReadOnly', () => {
    for (const key of ['fMeasure', 'alarmInfo', 'analogInput', 'deviceType']) {
      const e = thrown(() => validateValue(key, 1));
      expect(e.code, key).toBe('PARAM_READ_ONLY');
      expect(e.details.param).toBe(key);
    }
    expect(validateValue('fMeasure', 12.5, { allowReadOnly: true })).toBe(12.5);
    expect(validateValue('analogInput', -205, { allowReadOnly: true })).toBe(-205);
    expect(thrown(() => validateValue('analogInput', -23594, { allowReadOnly: true })).code).toBe('PARAM_INVALID_VALUE');
  });

  it('checks strings: fixed length, latin1, no NUL', () => {
    expect(validateValue('fluidName', 'N2')).toBe('N2');
    expect(validateValue('fluidName', 'EtOH 15mba')).toBe('EtOH 15mba');
    const e = thrown(() => validateValue('fluidName', 'Nitrogen gas'));
    expect(e.code).toBe('PARAM_INVALID_VALUE');
    expect(e.details).toMatchObject({ param: 'fluidName', dde: 25, expected: 'string', length: 10 });
    expect(thrown(() => validateValue('capacityUnit', 'ln/min/x')).code).toBe('PARAM_INVALID_VALUE');
    expect(validateValue('capacityUnit', 'ln/min')).toBe('ln/min');
    // Variable-length strings (length 0) take any length.
    expect(validateValue('userTag', 'a rather long user tag text')).toBe('a rather long user tag text');
    expect(thrown(() => validateValue('userTag', 'A\u0000B')).code).toBe('PARAM_INVALID_VALUE');
    expect(thrown(() => validateValue('userTag', 'µ€')).code).toBe('PARAM_INVALID_VALUE');
    expect(validateValue('userTag', 'µ°')).toBe('µ°');
  });

  it('checks byte strings and converts arrays and hex text', () => {
    expect(validateValue('alarmRegister1', new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
    expect(validateValue('alarmRegister1', [0, 255])).toEqual(new Uint8Array([0, 255]));
    expect(validateValue('alarmRegister1', '01 02 ff')).toEqual(new Uint8Array([1, 2, 255]));
    expect(thrown(() => validateValue('alarmRegister1', new Uint8Array(9))).code).toBe('PARAM_INVALID_VALUE');
    expect(thrown(() => validateValue('alarmRegister1', [256])).code).toBe('PARAM_INVALID_VALUE');
    expect(thrown(() => validateValue('alarmRegister1', 'xyz')).code).toBe('PARAM_INVALID_VALUE');
    expect(thrown(() => validateValue('alarmRegister1', 12)).code).toBe('PARAM_INVALID_VALUE');
  });

  it('checks the full u32 and bht16 ranges', () => {
    expect(validateValue('fieldbus1Baudrate', 4294967295)).toBe(4294967295);
    expect(thrown(() => validateValue('fieldbus1Baudrate', 4294967296)).code).toBe('PARAM_INVALID_VALUE');
    expect(validateValue('measure', -23593)).toBe(-23593);
    expect(validateValue('measure', 41942)).toBe(41942);
    expect(thrown(() => validateValue('measure', 41943)).code).toBe('PARAM_INVALID_VALUE');
  });

  it('resolves the parameter first (PARAM_UNKNOWN for unknown names)', () => {
    expect(thrown(() => validateValue('nope', 1)).code).toBe('PARAM_UNKNOWN');
    expect(validateValue(9, 100)).toBe(100);
    expect(validateValue(paramByDde(9)!, 100)).toBe(100);
  });
});
