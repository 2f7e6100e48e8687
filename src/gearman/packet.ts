/**
 * The binary packets of the Gearman protocol (gearman.org, "Protocol"): a
 * 12-byte header (`\0REQ` or `\0RES`, the type and the size of the data,
 * both 32-bit big-endian) and the data, whose arguments are separated by NUL
 * bytes; the last argument runs to the end and may hold NULs itself (a job's
 * payload or result is opaque bytes).
 */

/** The packet types this client and worker send or read, numbered as in the protocol. */
export const PACKET = {
  CAN_DO: 1,
  CANT_DO: 2,
  RESET_ABILITIES: 3,
  NOOP: 6,
  SUBMIT_JOB: 7,
  JOB_CREATED: 8,
  GRAB_JOB: 9,
  NO_JOB: 10,
  JOB_ASSIGN: 11,
  WORK_STATUS: 12,
  WORK_COMPLETE: 13,
  WORK_FAIL: 14,
  ECHO_REQ: 16,
  ECHO_RES: 17,
  SUBMIT_JOB_BG: 18,
  ERROR: 19,
  STATUS_RES: 20,
  SET_CLIENT_ID: 22,
  WORK_EXCEPTION: 25,
  OPTION_REQ: 26,
  OPTION_RES: 27,
  WORK_DATA: 28,
  WORK_WARNING: 29,
} as const;

export type PacketType = (typeof PACKET)[keyof typeof PACKET];

/** How many arguments each response carries; a type missing here is read as one opaque argument. */
const RESPONSE_ARGUMENTS: Partial<Record<number, number>> = {
  [PACKET.NOOP]: 0,
  [PACKET.NO_JOB]: 0,
  [PACKET.JOB_CREATED]: 1,
  [PACKET.JOB_ASSIGN]: 3,
  [PACKET.WORK_STATUS]: 3,
  [PACKET.WORK_COMPLETE]: 2,
  [PACKET.WORK_FAIL]: 1,
  [PACKET.WORK_EXCEPTION]: 2,
  [PACKET.WORK_DATA]: 2,
  [PACKET.WORK_WARNING]: 2,
  [PACKET.ECHO_RES]: 1,
  [PACKET.ERROR]: 2,
  [PACKET.STATUS_RES]: 5,
  [PACKET.OPTION_RES]: 1,
};

const REQUEST_MAGIC = Buffer.from('\0REQ', 'latin1');
const RESPONSE_MAGIC = Buffer.from('\0RES', 'latin1');
const HEADER_BYTES = 12;

/**
 * The largest packet read. The protocol sets no limit, but a result larger
 * than this is not something nodepool exchanges, and without a bound a
 * broken peer announcing 4 GiB would make the reader wait for it.
 */
export const MAX_PACKET_BYTES = 16 * 1024 * 1024;

export interface Packet {
  type: number;
  args: Buffer[];
}

/** A packet with a type that names it, for messages: `WORK_FAIL`, or `type 42`. */
export function packetName(type: number): string {
  const entry = Object.entries(PACKET).find(([, value]) => value === type);
  return entry ? entry[0] : `type ${type}`;
}

/** One request: the header, then the arguments joined by NUL bytes. */
export function encodeRequest(type: PacketType, args: readonly (string | Buffer)[] = []): Buffer {
  const parts: Buffer[] = [];
  args.forEach((arg, i) => {
    if (i > 0) parts.push(Buffer.from([0]));
    parts.push(typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg);
  });
  const data = Buffer.concat(parts);
  const header = Buffer.alloc(HEADER_BYTES);
  REQUEST_MAGIC.copy(header, 0);
  header.writeUInt32BE(type, 4);
  header.writeUInt32BE(data.length, 8);
  return Buffer.concat([header, data]);
}

/** A response as the server would send it (for tests of the reader). */
export function encodeResponse(type: number, args: readonly (string | Buffer)[] = []): Buffer {
  const request = encodeRequest(type as PacketType, args);
  RESPONSE_MAGIC.copy(request, 0);
  return request;
}

/** The bytes do not form Gearman responses: the connection cannot be trusted any further. */
export class PacketFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PacketFormatError';
  }
}

/**
 * Cuts the bytes of a connection into responses, however TCP split them.
 * Throws PacketFormatError for a header that is not a response's or a size
 * over MAX_PACKET_BYTES.
 */
export class PacketReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Packet[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const packets: Packet[] = [];
    while (this.pending.length >= HEADER_BYTES) {
      if (!this.pending.subarray(0, 4).equals(RESPONSE_MAGIC)) {
        throw new PacketFormatError(`expected a response header (\\0RES), got ${JSON.stringify(this.pending.subarray(0, 4).toString('latin1'))}`);
      }
      const type = this.pending.readUInt32BE(4);
      const size = this.pending.readUInt32BE(8);
      if (size > MAX_PACKET_BYTES) throw new PacketFormatError(`a ${packetName(type)} packet of ${size} bytes, over the ${MAX_PACKET_BYTES} read`);
      if (this.pending.length < HEADER_BYTES + size) break;
      const data = this.pending.subarray(HEADER_BYTES, HEADER_BYTES + size);
      packets.push({ type, args: splitArguments(data, RESPONSE_ARGUMENTS[type] ?? 1) });
      this.pending = this.pending.subarray(HEADER_BYTES + size);
    }
    return packets;
  }
}

/** The first `count - 1` NUL bytes separate arguments; the last argument is the rest, NULs and all. */
function splitArguments(data: Buffer, count: number): Buffer[] {
  if (count === 0) return [];
  const args: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < count - 1; i++) {
    const nul = data.indexOf(0, start);
    if (nul < 0) break;
    args.push(data.subarray(start, nul));
    start = nul + 1;
  }
  args.push(data.subarray(start));
  return args;
}
