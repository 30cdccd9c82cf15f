import { randomBytes } from 'crypto';

import {
  controlBody,
  encodeControl,
  encodeData,
  encodeFrame,
  encodeOpen,
  encodeWindow,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameType,
  MAX_FRAME_PAYLOAD,
  RelayProtocolError,
  windowBytes,
  type IFrame
} from '../../../src/sidecar/kernels/relay-protocol';

/** Decode `bytes` fed in pieces of `size` bytes. */
function decodeInPieces(bytes: Buffer, size: number): IFrame[] {
  const decoder = new FrameDecoder();
  const frames: IFrame[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    frames.push(...decoder.push(bytes.subarray(at, at + size)));
  }
  expect(decoder.pending).toBe(0);
  return frames;
}

describe('relay frames', () => {
  it('encodes the header as type, stream id and length, big-endian', () => {
    const frame = encodeFrame(FrameType.Data, 0x01020304, Buffer.from('hi'));
    expect([...frame]).toEqual([2, 1, 2, 3, 4, 0, 0, 0, 2, 0x68, 0x69]);
    expect(encodeFrame(FrameType.Shutdown, 0).length).toBe(FRAME_HEADER_BYTES);
  });

  it('decodes frames cut anywhere, down to one byte at a time', () => {
    const payloads = [
      Buffer.alloc(0),
      Buffer.from([0, 0xff, 0x0a, 0x0d]),
      randomBytes(1000)
    ];
    const bytes = Buffer.concat([
      ...payloads.map((p, i) => encodeFrame(FrameType.Data, i + 1, p)),
      encodeOpen(9, 65535),
      encodeWindow(9, 123456),
      encodeControl(FrameType.Start, { key: 'k', argv: ['a b', 'é'] })
    ]);
    for (const size of [1, 2, 8, 9, 10, 333, bytes.length]) {
      const frames = decodeInPieces(bytes, size);
      expect(frames.map(f => [f.type, f.stream])).toEqual([
        [FrameType.Data, 1],
        [FrameType.Data, 2],
        [FrameType.Data, 3],
        [FrameType.Open, 9],
        [FrameType.Window, 9],
        [FrameType.Start, 0]
      ]);
      frames
        .slice(0, 3)
        .forEach((f, i) => expect(f.payload.equals(payloads[i])).toBe(true));
      expect(frames[3].payload.readUInt16BE(0)).toBe(65535);
      expect(windowBytes(frames[4])).toBe(123456);
      expect(controlBody(frames[5])).toEqual({ key: 'k', argv: ['a b', 'é'] });
    }
  });

  it('cuts large data into frames of at most the maximum payload', () => {
    const data = randomBytes(4 * MAX_FRAME_PAYLOAD + 7);
    const encoded = encodeData(5, data);
    expect(encoded).toHaveLength(5);
    const frames = decodeInPieces(Buffer.concat(encoded), 65536);
    expect(frames.every(f => f.payload.length <= MAX_FRAME_PAYLOAD)).toBe(true);
    expect(Buffer.concat(frames.map(f => f.payload)).equals(data)).toBe(true);
    expect(encodeData(5, Buffer.alloc(0))).toEqual([]);
    expect(() =>
      encodeFrame(FrameType.Data, 1, Buffer.alloc(MAX_FRAME_PAYLOAD + 1))
    ).toThrow(RelayProtocolError);
  });

  it('keeps the data of many interleaved streams apart and in order', () => {
    const streams = 200;
    const sent = new Map<number, Buffer[]>();
    const frames: Buffer[] = [];
    for (let round = 0; round < 20; round++) {
      for (let id = 1; id <= streams; id++) {
        const piece = randomBytes((id * 7 + round * 13) % 300);
        sent.set(id, [...(sent.get(id) ?? []), piece]);
        frames.push(...encodeData(id, piece));
      }
    }
    const got = new Map<number, Buffer[]>();
    for (const f of decodeInPieces(Buffer.concat(frames), 4093)) {
      got.set(f.stream, [...(got.get(f.stream) ?? []), f.payload]);
    }
    for (let id = 1; id <= streams; id++) {
      const same = Buffer.concat(got.get(id) ?? []).equals(
        Buffer.concat(sent.get(id)!)
      );
      expect([id, same]).toEqual([id, true]);
    }
  });

  it('refuses garbage: unknown types, oversized lengths, bad ids and ports', () => {
    expect(() =>
      new FrameDecoder().push(Buffer.from('Traceback (most recent call last)'))
    ).toThrow(/unknown frame type 84/);
    const huge = Buffer.alloc(FRAME_HEADER_BYTES);
    huge.writeUInt8(FrameType.Data, 0);
    huge.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, 5);
    expect(() => new FrameDecoder().push(huge)).toThrow(/over/);
    expect(() => encodeFrame(FrameType.Data, -1)).toThrow(/stream id/);
    expect(() => encodeFrame(FrameType.Data, 2 ** 32)).toThrow(/stream id/);
    expect(() => encodeOpen(1, 0)).toThrow(/port/);
    expect(() => encodeOpen(1, 70000)).toThrow(/port/);
    expect(() =>
      controlBody({
        type: FrameType.Hello,
        stream: 0,
        payload: Buffer.from('{')
      })
    ).toThrow(RelayProtocolError);
    expect(() =>
      windowBytes({
        type: FrameType.Window,
        stream: 1,
        payload: Buffer.alloc(2)
      })
    ).toThrow(RelayProtocolError);
  });
});
