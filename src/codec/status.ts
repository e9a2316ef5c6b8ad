/** Status codes of command 0 replies (PROTOCOL.md 4.1): stable key and message for each. */
export interface CodeInfo {
  readonly code: number;
  readonly key: string;
  readonly message: string;
}

const STATUS: readonly [string, string][] = [
  ['OK', 'no error'],
  ['PROCESS_CLAIMED', 'process claimed'],
  ['COMMAND', 'command error'],
  ['PROC_NUMBER', 'process error (unknown process)'],
  ['PARM_NUMBER', 'parameter error (unknown parameter)'],
  ['PARM_TYPE', 'parameter type error'],
  ['PARM_VALUE', 'parameter value error'],
  ['NETWORK_NOT_ACTIVE', 'network not active'],
  ['TIMEOUT_START_CHAR', 'time-out start character'],
  ['TIMEOUT_SERIAL_LINE', 'time-out serial line'],
  ['HARDWARE_MEMORY', 'hardware memory error'],
  ['NODE_NUMBER', 'node number error'],
  ['GENERAL_COMMUNICATION', 'general communication error'],
  ['READONLY', 'read-only parameter'],
  ['PC_COMMUNICATION', 'error PC-communication'],
  ['NO_RS232_CONNECTION', 'no RS232 connection'],
  ['PC_OUT_OF_MEMORY', 'PC out of memory'],
  ['WRITEONLY', 'write-only parameter'],
  ['UNKNOWN_CONFIGURATION', 'system configuration unknown'],
  ['NO_FREE_NODE_ADDRESS', 'no free node address'],
  ['WRONG_INTERFACE', 'wrong interface type'],
  ['ERROR_SERIAL_PORT', 'error serial port connection'],
  ['OPENING_COMMUNICATION', 'error opening communication'],
  ['COMMUNICATION_ERROR', 'communication error'],
  ['INTERFACE_BUS_MASTER', 'error interface bus master'],
  ['TIMEOUT_ANSWER', 'timeout answer'],
  ['NO_START_CHARACTER', 'no start character'],
  ['ERROR_FIRST_DIGIT', 'error first digit'],
  ['HOST_BUFFER_OVERFLOW', 'buffer overflow in host'],
  ['BUFFER_OVERFLOW', 'buffer overflow'],
  ['NO_ANSWER_FOUND', 'no answer found'],
  ['ERROR_CLOSE_COMM', 'error closing communication'],
  ['SYNC_ERROR', 'synchronisation error'],
  ['SEND_ERROR', 'send error'],
  ['PROTOCOL_ERROR', 'protocol error'],
  ['MODULE_BUFFER_OVERFLOW', 'buffer overflow in module'],
];

export const STATUS_CODES: readonly CodeInfo[] = STATUS.map(([key, message], code) => ({ code, key, message }));

/** Named status codes used by the gateway and the simulator. */
export const Status = {
  Ok: 0x00,
  ProcessClaimed: 0x01,
  Command: 0x02,
  ProcessNumber: 0x03,
  ParameterNumber: 0x04,
  ParameterType: 0x05,
  ParameterValue: 0x06,
  ReadOnly: 0x0d,
  WriteOnly: 0x11,
  TimeoutAnswer: 0x19,
  ModuleBufferOverflow: 0x23,
} as const;

export function statusInfo(code: number): CodeInfo {
  return STATUS_CODES[code] ?? { code, key: `UNKNOWN_${code}`, message: `unknown status 0x${code.toString(16).padStart(2, '0')}` };
}

/** Error-frame codes (PROTOCOL.md 4.2). */
export const ERROR_FRAME_CODES: readonly CodeInfo[] = [
  { code: 1, key: 'GENERAL', message: 'general error' },
  { code: 2, key: 'GENERAL', message: 'general error' },
  { code: 3, key: 'PROTOCOL', message: 'propar protocol error' },
  { code: 4, key: 'PROTOCOL_OR_CRC', message: 'propar protocol error (or CRC error)' },
  { code: 5, key: 'NODE_REJECTED', message: 'destination node address rejected' },
  { code: 8, key: 'GENERAL', message: 'general error' },
  { code: 9, key: 'RESPONSE_TIMEOUT', message: 'response message timeout' },
];

export const ErrorFrameCode = {
  ProtocolError: 3,
  ProtocolOrCrc: 4,
  NodeRejected: 5,
  ResponseTimeout: 9,
} as const;

export function errorFrameInfo(code: number): CodeInfo {
  return (
    ERROR_FRAME_CODES.find((c) => c.code === code) ?? {
      code,
      key: `UNKNOWN_${code}`,
      message: `unknown error frame code 0x${code.toString(16).padStart(2, '0')}`,
    }
  );
}
