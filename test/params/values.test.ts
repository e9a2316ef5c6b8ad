import { describe, expect, it } from 'vitest';
import { type GatewayError, isGatewayError } from '../../src/shared/index.js';
import { encodeValue } from '../../src/codec/index.js';
import { MAX_VARIABLE_LENGTH, allParams, bitLabels, enumLabel, enumValue, findParam, paramByDde, validateValue } from '../../src/params/index.js';

const findParamDde = (key: string): number => findParam(key)?.dde ?? -1;

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

  it('refuses long text as a number without trying it as one (the patterns are quadratic in its length)', () => {
    // 64 kB (the API's body limit) of digits or spaces: a type error, at once.
    for (const text of ['1'.repeat(65_000) + 'x', ' '.repeat(65_000) + '1', '1'.repeat(65)]) {
      const e = thrown(() => validateValue('fSetpoint', text));
      expect(e.code).toBe('PARAM_INVALID_VALUE');
      expect(e.message).toMatch(/expected a number/);
      expect(e.message.length).toBeLessThan(300);
    }
    expect(validateValue('fSetpoint', ` ${'0'.repeat(60)}1 `)).toBe(1);
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
  });

  it('refuses numbers a closed enumeration does not list, naming the allowed values', () => {
    for (const [key, value] of [['controlMode', 99], ['controlMode', 255], ['controlMode', '25'], ['valveSafeState', 6], ['alarmMode', 4]] as const) {
      const e = thrown(() => validateValue(key, value));
      expect(e.code, `${key} ${value}`).toBe('PARAM_BAD_ENUM');
      expect(e.message).toContain(`${Number(value)} is not one of its listed values`);
      expect(e.details.allowed, key).toEqual(paramByDde(findParamDde(key))?.enumeration?.map((x) => ({ value: x.value, label: x.label })));
    }
    expect(validateValue('valveSafeState', 5)).toBe(5);
    expect(validateValue('controlMode', 24)).toBe(24);
  });

  it('accepts any number in range for an open enumeration (enumerationOpen)', () => {
    // Manufacturer status enable: the source lists 0 and 127 as the ends of "set status bit 0..127".
    expect(validateValue('manufacturerStatusEnable', 64)).toBe(64);
    // Identification number: a catalogue of device types that grows with new instruments.
    expect(validateValue('identificationNumber', 60)).toBe(60);
    expect(thrown(() => validateValue('manufacturerStatusEnable', 256)).code).toBe('PARAM_INVALID_VALUE');
  });

  it('bit fields take only the bits, and field values, their entries describe', () => {
    expect(validateValue('ioStatus', 0xff)).toBe(0xff);
    expect(validateValue('controllerFeatures', 0xa5)).toBe(0xa5);
    expect(validateValue('sensorBridgeSettings', 0x307)).toBe(0x307);
    const stray = thrown(() => validateValue('sensorBridgeSettings', 0x408));
    expect(stray.code).toBe('PARAM_BAD_ENUM');
    expect(stray.message).toContain('bits 0x408');
    expect(stray.details.allowed).toContainEqual({ value: 0x100, label: 'Automatic sensor configuration on', mask: 0x100 });
    // analogMode 0x3f is a 5-value field (0...5 Vdc .. 15...20 mA): 5 is not one of them.
    expect(validateValue('analogMode', 0x44)).toBe(0x44);
    expect(thrown(() => validateValue('analogMode', 0x45)).message).toContain('field 0x3f');
    expect(thrown(() => validateValue('adcControlRegister', 1)).code).toBe('PARAM_BAD_ENUM');
    expect(validateValue('adcControlRegister', 0x1000 | 0x1c0000 | 0x1000000)).toBe(0x11c1000);
  });

  it('refuses an unknown enumeration name and lists the allowed values', () => {
    const e = thrown(() => validateValue('controlMode', 'fly'));
    // As a number it does not list (77 below): the same code, with the allowed values.
    expect(e.code).toBe('PARAM_BAD_ENUM');
    expect(thrown(() => validateValue('controlMode', 77)).code).toBe('PARAM_BAD_ENUM');
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
    expect(validateValue('userTag', 'reactor 2 inlet')).toBe('reactor 2 inlet');
    expect(thrown(() => validateValue('userTag', 'A\u0000B')).code).toBe('PARAM_INVALID_VALUE');
    expect(thrown(() => validateValue('userTag', 'µ€')).code).toBe('PARAM_INVALID_VALUE');
    expect(validateValue('userTag', 'µ°')).toBe('µ°');
  });

  it('refuses text longer than the parameter takes with a 400 naming the maximum, fixed or variable length', () => {
    // User tag: variable length in the database, 16 characters on the instrument.
    expect(validateValue('userTag', 'x'.repeat(16))).toBe('x'.repeat(16));
    for (const n of [17, 300, 1_000_000]) {
      const e = thrown(() => validateValue('userTag', 'x'.repeat(n)));
      expect(e.code, String(n)).toBe('PARAM_INVALID_VALUE');
      expect(e.message).toContain(`${n} characters is too long: at most 16 characters`);
      expect(e.details).toMatchObject({ param: 'userTag', length: 16 });
      expect(String(e.details.value).length).toBeLessThanOrEqual(80);
    }
    // Other variable-length strings: what one ProPar write carries.
    expect(validateValue('customerModel', 'x'.repeat(MAX_VARIABLE_LENGTH))).toHaveLength(MAX_VARIABLE_LENGTH);
    const frame = thrown(() => validateValue('customerModel', 'x'.repeat(300)));
    expect(frame.message).toContain(`at most ${MAX_VARIABLE_LENGTH} characters (what one ProPar write carries)`);
    expect(frame.details.length).toBe(MAX_VARIABLE_LENGTH);
    // A tighter limit from the bus's request budget.
    const bus = thrown(() => validateValue('customerModel', 'x'.repeat(60), { maxLength: { length: 53, why: 'one write of maxRequestBytes 64' } }));
    expect(bus.message).toContain('at most 53 characters (one write of maxRequestBytes 64)');
    expect(bus.details.length).toBe(53);
    // Fixed length: the fixed length.
    expect(thrown(() => validateValue('fluidName', 'x'.repeat(11))).message).toContain('at most 10 characters');
  });

  it('refuses a 00 byte in a variable-length byte string, and over-long byte strings', () => {
    expect(validateValue('ifiData', '01 02')).toEqual(new Uint8Array([1, 2]));
    expect(thrown(() => validateValue('ifiData', '01 00 02')).code).toBe('PARAM_INVALID_VALUE');
    expect(thrown(() => validateValue('ifiData', new Uint8Array(300).fill(1))).message).toContain(`at most ${MAX_VARIABLE_LENGTH} bytes`);
    expect(thrown(() => validateValue('ifiData', '01'.repeat(100_000))).code).toBe('PARAM_INVALID_VALUE');
  });

  it('whatever it accepts, the codec can encode (every writable parameter, edge values)', () => {
    const samples: unknown[] = [0, 1, -1, 255, 256, 65535, 65536, 2 ** 32, -(2 ** 31), 1.5, 1e39, 3.4028235e38, '', 'x', 'x'.repeat(255), '00'.repeat(255), '01'.repeat(200), [0], [1, 2, 3]];
    let accepted = 0;
    for (const p of allParams().filter((q) => q.write)) {
      for (const v of samples) {
        let out: ReturnType<typeof validateValue>;
        try {
          out = validateValue(p, v);
        } catch (err) {
          expect(['PARAM_INVALID_VALUE', 'PARAM_BAD_ENUM'], `${p.key} ${String(v).slice(0, 20)}`).toContain((err as GatewayError).code);
          continue;
        }
        accepted++;
        expect(() => encodeValue(p.valueType, out, p.length > 0 && (p.valueType === 'string' || p.valueType === 'bytes') ? p.length : 0), `${p.key} ${String(v).slice(0, 20)}`).not.toThrow();
      }
    }
    expect(accepted).toBeGreaterThan(500);
  });

  it('names the instrument\'s range, when given, in range and type errors alike', () => {
    const range = { min: 0, max: 6980.39, unit: 'mg/min', why: "this instrument's capacity is 6817 mg/min" };
    const type = thrown(() => validateValue('fSetpoint', 'abc', { range }));
    expect(type.message).toContain('allowed range 0..6980.39 mg/min');
    expect(type.message).not.toContain('3.4');
    expect(type.details).toMatchObject({ min: 0, max: 6980.39, unit: 'mg/min' });
    const out = thrown(() => validateValue('fSetpoint', 99999, { range }));
    expect(out.message).toContain('99999 is outside 0..6980.39 mg/min');
    expect(out.details).toMatchObject({ min: 0, max: 6980.39 });
    expect(validateValue('fSetpoint', 6980.39, { range })).toBe(6980.39);
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
