import { describe, expect, it } from 'vitest';
import {
  AudioSocketCodec,
  MediaProtocolError,
  RtpCodec,
  SlnCodec,
  createEncapsulationCodec,
} from '../../streams/protocols/index.js';
import type { EncapsulationCodec, MediaEvent } from '../../streams/protocols/index.js';

/** A deterministic frame with every byte pattern class: negatives, extremes, odd low bytes. */
function frame(n = 160, seed = 1): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = ((i * 2654435761 + seed * 40503) >>> 0) % 65536 - 32768;
  out[0] = -32768;
  if (n > 1) out[1] = 32767;
  return out;
}

/** The bytes of `samples` as little-endian slin, built independently of the codecs. */
function le(samples: Int16Array): Buffer {
  const b = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => b.writeInt16LE(s, i * 2));
  return b;
}

/** Copies `buf` to an odd byte offset of a larger ArrayBuffer (as `ws` may hand it over). */
function atOddOffset(buf: Buffer): Buffer {
  const backing = Buffer.alloc(buf.length + 1);
  buf.copy(backing, 1);
  return backing.subarray(1);
}

function audioOf(events: MediaEvent[]): Int16Array[] {
  return events.filter((e): e is Extract<MediaEvent, { kind: 'audio' }> => e.kind === 'audio').map((e) => Int16Array.from(e.samples));
}

function expectProtocolError(fn: () => unknown, closeCode: number, reason: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MediaProtocolError);
  const err = caught as MediaProtocolError;
  expect(err.closeCode).toBe(closeCode);
  expect(err.message).toMatch(reason);
  expect(Buffer.byteLength(err.message)).toBeLessThanOrEqual(120);
}

/** An RTP packet built by hand (big-endian header fields), payload little-endian. */
function rtpPacket(opts: {
  version?: number;
  pt?: number;
  marker?: boolean;
  seq?: number;
  ts?: number;
  ssrc?: number;
  csrcs?: number[];
  extensionWords?: number;
  padding?: number;
  payload?: Buffer;
}): Buffer {
  const csrcs = opts.csrcs ?? [];
  const ext = opts.extensionWords;
  const payload = opts.payload ?? le(frame());
  const padding = opts.padding ?? 0;
  const headerLen = 12 + 4 * csrcs.length + (ext !== undefined ? 4 + 4 * ext : 0);
  const b = Buffer.alloc(headerLen + payload.length + padding, 0xee);
  b[0] = ((opts.version ?? 2) << 6) | (padding ? 0x20 : 0) | (ext !== undefined ? 0x10 : 0) | csrcs.length;
  b[1] = (opts.marker ? 0x80 : 0) | (opts.pt ?? 96);
  b.writeUInt16BE(opts.seq ?? 1, 2);
  b.writeUInt32BE(opts.ts ?? 0, 4);
  b.writeUInt32BE(opts.ssrc ?? 0x1234, 8);
  let o = 12;
  for (const c of csrcs) {
    b.writeUInt32BE(c, o);
    o += 4;
  }
  if (ext !== undefined) {
    b.writeUInt16BE(0xbede, o);
    b.writeUInt16BE(ext, o + 2);
    o += 4 + 4 * ext;
  }
  payload.copy(b, o);
  if (padding) b[b.length - 1] = padding;
  return b;
}

describe('createEncapsulationCodec', () => {
  it('creates one codec class per encapsulation', () => {
    expect(createEncapsulationCodec('sln')).toBeInstanceOf(SlnCodec);
    expect(createEncapsulationCodec('rtp')).toBeInstanceOf(RtpCodec);
    expect(createEncapsulationCodec('audiosocket')).toBeInstanceOf(AudioSocketCodec);
    expect(() => createEncapsulationCodec('pcmu' as never)).toThrow(/unsupported encapsulation/);
  });

  it.each(['sln', 'rtp', 'audiosocket'] as const)('%s: round-trips frames exactly, aligned and unaligned', (name) => {
    const tx: EncapsulationCodec = createEncapsulationCodec(name);
    const rx: EncapsulationCodec = createEncapsulationCodec(name);
    for (let k = 0; k < 5; k++) {
      const samples = frame(160, k);
      const wire = Buffer.from(tx.encodeAudio(samples));
      expect(audioOf(rx.decode(wire))).toEqual([samples]);
      expect(audioOf(rx.decode(atOddOffset(wire)))).toEqual([samples]);
    }
  });

  it.each(['sln', 'rtp', 'audiosocket'] as const)('%s: the payload on the wire is little-endian slin', (name) => {
    const samples = frame();
    const wire = createEncapsulationCodec(name).encodeAudio(samples);
    const header = { sln: 0, rtp: 12, audiosocket: 3 }[name];
    expect(wire.length).toBe(header + 320);
    expect(wire.subarray(header).equals(le(samples))).toBe(true);
  });

  it('reuses its output buffer (no allocation per frame)', () => {
    for (const name of ['sln', 'rtp', 'audiosocket'] as const) {
      const codec = createEncapsulationCodec(name);
      const a = codec.encodeAudio(frame(160, 1));
      const b = codec.encodeAudio(frame(160, 2));
      expect(a).toBe(b);
    }
  });

  it('decodes aligned payloads as zero-copy views of the message', () => {
    const wire = Buffer.from(new SlnCodec().encodeAudio(frame()));
    const [ev] = new SlnCodec().decode(wire);
    expect(ev.kind === 'audio' && ev.samples.buffer).toBe(wire.buffer);
  });
});

describe('sln', () => {
  it('accepts any even size up to 4096 bytes, empty yields nothing', () => {
    const codec = new SlnCodec();
    expect(codec.decode(Buffer.alloc(0))).toEqual([]);
    expect(audioOf(codec.decode(le(frame(2048))))).toEqual([frame(2048)]);
    expect(audioOf(codec.decode(le(frame(7))))).toEqual([frame(7)]);
    expect(codec.encodeHangup()).toBeNull();
  });

  it('rejects odd sizes (1007) and oversized messages (1009)', () => {
    const codec = new SlnCodec();
    expectProtocolError(() => codec.decode(Buffer.alloc(321)), 1007, /odd/);
    expectProtocolError(() => codec.decode(Buffer.alloc(4098)), 1009, /exceeds 4096/);
  });
});

describe('rtp', () => {
  it('writes a version-2, PT 96 header with the marker on the first packet only', () => {
    const codec = new RtpCodec({ ssrc: 0xdeadbeef, sequenceNumber: 100, timestamp: 1000 });
    const first = Buffer.from(codec.encodeAudio(frame()));
    const second = Buffer.from(codec.encodeAudio(frame()));
    expect(first[0]).toBe(0x80); // V=2, P=0, X=0, CC=0
    expect(first[1]).toBe(0x80 | 96);
    expect(second[1]).toBe(96);
    expect(first.readUInt16BE(2)).toBe(100);
    expect(second.readUInt16BE(2)).toBe(101);
    expect(first.readUInt32BE(4)).toBe(1000);
    expect(second.readUInt32BE(4)).toBe(1160);
    expect(first.readUInt32BE(8)).toBe(0xdeadbeef);
    expect(second.readUInt32BE(8)).toBe(0xdeadbeef);
    expect(codec.encodeHangup()).toBeNull();
  });

  it('wraps the sequence number mod 2^16 and the timestamp mod 2^32', () => {
    const tx = new RtpCodec({ ssrc: 7, sequenceNumber: 0xfffe, timestamp: 0xffffffff - 200 });
    const rx = new RtpCodec();
    const seen: Array<[number, number, boolean]> = [];
    for (let i = 0; i < 4; i++) {
      rx.decode(tx.encodeAudio(frame()));
      seen.push([rx.lastHeader.sequenceNumber, rx.lastHeader.timestamp, rx.lastHeader.marker]);
    }
    expect(seen).toEqual([
      [0xfffe, 0xffffffff - 200, true],
      [0xffff, 0xffffffff - 40, false],
      [0, 119, false],
      [1, 279, false],
    ]);
    expect(rx.lastHeader.ssrc).toBe(7);
    expect(tx.nextSequenceNumber).toBe(2);
    expect(tx.nextTimestamp).toBe(439);
  });

  it('picks a random SSRC, sequence number and timestamp by default', () => {
    const a = new RtpCodec();
    const b = new RtpCodec();
    expect([a.ssrc, a.nextSequenceNumber, a.nextTimestamp]).not.toEqual([b.ssrc, b.nextSequenceNumber, b.nextTimestamp]);
    expect(() => new RtpCodec({ ssrc: 2 ** 32 })).toThrow(RangeError);
  });

  it('skips CSRCs, the header extension and padding', () => {
    const samples = frame(160, 9);
    const codec = new RtpCodec();
    const pkt = rtpPacket({ csrcs: [1, 2, 3], extensionWords: 2, padding: 4, payload: le(samples), seq: 42, ts: 99, marker: true });
    expect(audioOf(codec.decode(pkt))).toEqual([samples]);
    expect(codec.lastHeader).toMatchObject({ sequenceNumber: 42, timestamp: 99, marker: true, csrcCount: 3, extension: true, paddingBytes: 4 });
    // Same through an odd offset (copy path).
    expect(audioOf(codec.decode(atOddOffset(pkt)))).toEqual([samples]);
    // Extension with zero words, 15 CSRCs.
    const max = rtpPacket({ csrcs: Array.from({ length: 15 }, (_, i) => i), extensionWords: 0, payload: le(samples) });
    expect(audioOf(codec.decode(max))).toEqual([samples]);
  });

  it('yields no audio for an empty payload', () => {
    expect(new RtpCodec().decode(rtpPacket({ payload: Buffer.alloc(0) }))).toEqual([]);
    expect(new RtpCodec().decode(rtpPacket({ payload: Buffer.alloc(0), padding: 4 }))).toEqual([]);
  });

  it('rejects malformed packets with 1007 and oversized ones with 1009', () => {
    const codec = new RtpCodec();
    expectProtocolError(() => codec.decode(Buffer.alloc(11)), 1007, /shorter than the 12-byte header/);
    expectProtocolError(() => codec.decode(rtpPacket({ version: 1 })), 1007, /rtp version 1, expected 2/);
    expectProtocolError(() => codec.decode(rtpPacket({ pt: 0 })), 1007, /^rtp payload type 0, expected 96$/);
    expectProtocolError(() => codec.decode(rtpPacket({ pt: 97 })), 1007, /rtp payload type 97, expected 96/);
    // CC=4 but only 8 bytes follow the fixed header.
    const shortCsrc = rtpPacket({ payload: Buffer.alloc(8) });
    shortCsrc[0] |= 4;
    expectProtocolError(() => codec.decode(shortCsrc), 1007, /too short for 4 CSRCs/);
    // X set, no room for the extension header.
    const noExt = rtpPacket({ payload: Buffer.alloc(2) });
    noExt[0] |= 0x10;
    expectProtocolError(() => codec.decode(noExt), 1007, /header extension/);
    // Extension length overruns the packet.
    const overrun = rtpPacket({ extensionWords: 0, payload: Buffer.alloc(8) });
    overrun.writeUInt16BE(100, 14);
    expectProtocolError(() => codec.decode(overrun), 1007, /overruns/);
    // Padding count 0 and padding longer than the payload.
    const pad0 = rtpPacket({ padding: 2 });
    pad0[pad0.length - 1] = 0;
    expectProtocolError(() => codec.decode(pad0), 1007, /padding count 0/);
    const padBig = rtpPacket({ padding: 2, payload: Buffer.alloc(4) });
    padBig[padBig.length - 1] = 200;
    expectProtocolError(() => codec.decode(padBig), 1007, /padding count 200/);
    expectProtocolError(() => codec.decode(rtpPacket({ payload: Buffer.alloc(321) })), 1007, /odd/);
    expectProtocolError(() => codec.decode(rtpPacket({ payload: Buffer.alloc(4098) })), 1009, /payload of 4098 bytes exceeds 4096/);
    expectProtocolError(() => codec.decode(Buffer.alloc(8193)), 1009, /exceeds 8192/);
  });
});

describe('audiosocket', () => {
  const uuid = '0d3f9b1e-5c2a-4e8f-9a7b-1c2d3e4f5a6b';

  function packet(kind: number, payload: Buffer | number[]): Buffer {
    const p = Buffer.from(payload);
    const h = Buffer.alloc(3);
    h[0] = kind;
    h.writeUInt16BE(p.length, 1);
    return Buffer.concat([h, p]);
  }

  it('frames audio as kind 0x10 + big-endian length + LE payload', () => {
    const samples = frame();
    const wire = new AudioSocketCodec().encodeAudio(samples);
    expect(wire[0]).toBe(0x10);
    expect(wire.readUInt16BE(1)).toBe(320);
    expect(wire.subarray(3).equals(le(samples))).toBe(true);
  });

  it('decodes several packets of every kind from one message, in order', () => {
    const a = frame(160, 3);
    const b = frame(160, 4);
    const msg = Buffer.concat([
      packet(0x01, Buffer.from(uuid.replace(/-/g, ''), 'hex')),
      packet(0x10, le(a)),
      packet(0x03, [0x35]),
      packet(0x10, le(b)),
      packet(0x03, [0x23]),
      packet(0xff, [0x02]),
      packet(0x10, []),
      packet(0x00, []),
    ]);
    const codec = new AudioSocketCodec();
    for (const m of [msg, atOddOffset(msg)]) {
      const events = codec.decode(m);
      expect(events.map((e) => e.kind)).toEqual(['uuid', 'audio', 'dtmf', 'audio', 'dtmf', 'error', 'hangup']);
      expect(events[0]).toEqual({ kind: 'uuid', id: uuid });
      expect(events[2]).toEqual({ kind: 'dtmf', digit: '5' });
      expect(events[4]).toEqual({ kind: 'dtmf', digit: '#' });
      expect(events[5]).toEqual({ kind: 'error', code: 2 });
      // Both audio events stay intact although the second one was decoded after the first.
      expect(audioOf(events)).toEqual([a, b]);
    }
  });

  it('builds hangup, uuid, dtmf and error packets that decode back', () => {
    const codec = new AudioSocketCodec();
    expect([...codec.encodeHangup()]).toEqual([0, 0, 0]);
    const msg = Buffer.concat([codec.encodeUuid(uuid.toUpperCase()), codec.encodeDtmf('a'), codec.encodeError(4), codec.encodeHangup()]);
    expect(new AudioSocketCodec().decode(msg)).toEqual([
      { kind: 'uuid', id: uuid },
      { kind: 'dtmf', digit: 'A' },
      { kind: 'error', code: 4 },
      { kind: 'hangup' },
    ]);
    expect(() => codec.encodeUuid('not-a-uuid')).toThrow(RangeError);
    expect(() => codec.encodeDtmf('x')).toThrow(RangeError);
  });

  it('treats an empty error payload as code 0', () => {
    expect(new AudioSocketCodec().decode(packet(0xff, []))).toEqual([{ kind: 'error', code: 0 }]);
  });

  it('rejects truncated and malformed packets (1007), unknown kinds (1003), oversize (1009)', () => {
    const codec = new AudioSocketCodec();
    const good = packet(0x10, le(frame()));
    expectProtocolError(() => codec.decode(Buffer.concat([good, Buffer.from([0x10, 0x01])])), 1007, /header truncated: 2 of 3 bytes/);
    expectProtocolError(() => codec.decode(good.subarray(0, 100)), 1007, /kind 0x10 payload truncated: 97 of 320 bytes/);
    expectProtocolError(() => codec.decode(Buffer.concat([good, good.subarray(0, 10)])), 1007, /payload truncated/);
    expectProtocolError(() => codec.decode(packet(0x10, Buffer.alloc(321))), 1007, /odd/);
    expectProtocolError(() => codec.decode(packet(0x01, Buffer.alloc(15))), 1007, /uuid payload of 15 bytes, expected 16/);
    expectProtocolError(() => codec.decode(packet(0x03, [])), 1007, /dtmf payload of 0 bytes/);
    expectProtocolError(() => codec.decode(packet(0x03, [0x78])), 1007, /dtmf byte 0x78/);
    expectProtocolError(() => codec.decode(packet(0x11, le(frame()))), 1003, /kind 0x11 is not supported/);
    expectProtocolError(() => codec.decode(packet(0x02, [])), 1003, /kind 0x02/);
    expectProtocolError(() => codec.decode(packet(0x10, Buffer.alloc(4098))), 1009, /audio payload of 4098 bytes exceeds 4096/);
    expectProtocolError(() => codec.decode(Buffer.alloc(16385)), 1009, /exceeds 16384/);
  });
});

describe('MediaProtocolError', () => {
  it('cuts long reasons to 120 bytes without splitting characters', () => {
    const err = new MediaProtocolError(1007, 'é'.repeat(100));
    expect(Buffer.byteLength(err.message)).toBeLessThanOrEqual(120);
    expect(err.message).toBe('é'.repeat(60));
    expect(err.closeCode).toBe(1007);
    expect(err.name).toBe('MediaProtocolError');
  });
});
