/** The binary packets: what goes out byte for byte, and responses read however TCP cuts them. */
import { describe, expect, it } from 'vitest';
import { encodeRequest, encodeResponse, MAX_PACKET_BYTES, PACKET, PacketFormatError, PacketReader } from '../../src/gearman/packet.js';

describe('a request', () => {
  it('is \\0REQ, its type and its size big-endian, then its arguments joined by NUL', () => {
    const bytes = encodeRequest(PACKET.SUBMIT_JOB, ['build:job:small', 'u1', 'payload']);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('\0REQ');
    expect(bytes.readUInt32BE(4)).toBe(7);
    expect(bytes.readUInt32BE(8)).toBe('build:job:small\0u1\0payload'.length);
    expect(bytes.subarray(12).toString('latin1')).toBe('build:job:small\0u1\0payload');
  });

  it('without arguments is a bare header', () => {
    expect(encodeRequest(PACKET.GRAB_JOB)).toEqual(Buffer.from([0, 0x52, 0x45, 0x51, 0, 0, 0, 9, 0, 0, 0, 0]));
  });
});

describe('the response reader', () => {
  it('reads responses cut anywhere, several to a chunk, and keeps NULs inside the last argument', () => {
    const stream = Buffer.concat([
      encodeResponse(PACKET.JOB_CREATED, ['H:host:1']),
      encodeResponse(PACKET.NO_JOB),
      encodeResponse(PACKET.JOB_ASSIGN, ['H:host:2', 'build:job:small', Buffer.from('a\0b\0c')]),
      encodeResponse(PACKET.WORK_COMPLETE, ['H:host:1', '']),
    ]);
    for (const size of [1, 5, 12, 13, stream.length]) {
      const reader = new PacketReader();
      const packets = [];
      for (let i = 0; i < stream.length; i += size) packets.push(...reader.push(stream.subarray(i, i + size)));
      expect(packets.map((p) => [p.type, p.args.map((a) => a.toString('latin1'))])).toEqual([
        [PACKET.JOB_CREATED, ['H:host:1']],
        [PACKET.NO_JOB, []],
        [PACKET.JOB_ASSIGN, ['H:host:2', 'build:job:small', 'a\0b\0c']],
        [PACKET.WORK_COMPLETE, ['H:host:1', '']],
      ]);
    }
  });

  it('refuses bytes that are not a response, and a size over its bound', () => {
    expect(() => new PacketReader().push(encodeRequest(PACKET.NO_JOB as never))).toThrow(PacketFormatError);
    expect(() => new PacketReader().push(Buffer.from('status\nand more'))).toThrow('expected a response header');
    const huge = encodeResponse(PACKET.WORK_DATA, ['H:1', 'x']);
    huge.writeUInt32BE(MAX_PACKET_BYTES + 1, 8);
    expect(() => new PacketReader().push(huge)).toThrow(`a WORK_DATA packet of ${MAX_PACKET_BYTES + 1} bytes`);
  });
});
