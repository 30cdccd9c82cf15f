/**
 * The 64×64 PNG logo of a cluster kernel (`logo-64x64.png`), drawn in code
 * after cluster-logo.svg: a blue rounded badge holding three white server
 * units with a green light each. JupyterLab prefers the SVG; clients that
 * read only the PNG (the classic notebook's kernel menu, other editors)
 * get the same badge.
 */
import { deflateSync } from 'zlib';

const SIZE = 64;
type Rgba = [number, number, number, number];
const BLUE: Rgba = [0x2f, 0x6f, 0x9f, 255];
const WHITE: Rgba = [255, 255, 255, 255];
const GREEN: Rgba = [0x39, 0xc2, 0x7a, 255];

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) {
    c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** Is (x, y) inside the rectangle with corner radius r? */
function inRoundRect(
  x: number,
  y: number,
  left: number,
  top: number,
  width: number,
  height: number,
  r: number
): boolean {
  if (x < left || y < top || x >= left + width || y >= top + height) {
    return false;
  }
  const cx = Math.min(Math.max(x + 0.5, left + r), left + width - r);
  const cy = Math.min(Math.max(y + 0.5, top + r), top + height - r);
  return (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r;
}

function pixel(x: number, y: number): Rgba {
  if (!inRoundRect(x, y, 2, 2, 60, 60, 12)) {
    return [0, 0, 0, 0];
  }
  for (const top of [12, 27, 42]) {
    if ((x + 0.5 - 45) ** 2 + (y + 0.5 - (top + 5)) ** 2 <= 6.25) {
      return GREEN;
    }
    if (x >= 16 && x < 34 && y >= top + 4 && y < top + 6) {
      return BLUE;
    }
    if (inRoundRect(x, y, 12, top, 40, 10, 2)) {
      return WHITE;
    }
  }
  return BLUE;
}

/** The PNG file's bytes. */
export function clusterLogoPng(): Buffer {
  const rows = Buffer.alloc(SIZE * (1 + SIZE * 4));
  for (let y = 0; y < SIZE; y++) {
    const row = y * (1 + SIZE * 4);
    rows[row] = 0; // filter: none
    for (let x = 0; x < SIZE; x++) {
      Buffer.from(pixel(x, y)).copy(rows, row + 1 + x * 4);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(SIZE, 0);
  header.writeUInt32BE(SIZE, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0))
  ]);
}
