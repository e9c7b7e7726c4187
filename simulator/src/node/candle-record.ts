import { candleProblem, type Candle } from '@appliance/trading-core';

/**
 * One record per line: `time,open,high,low,close,volume*crc\n`, numbers as JavaScript prints
 * them (they read back to the same double), crc the CRC-32 of what precedes `*` in 8 hex digits.
 * The checksum catches a tail the file system filled with zeros or old blocks after power loss,
 * which a newline alone would not.
 */
export function encodeRecord(c: Candle): string {
  const body = `${c.time},${c.open},${c.high},${c.low},${c.close},${c.volume}`;
  return `${body}*${crc32hex(body)}\n`;
}

/** The candle of one line (without its newline), or null when it is not a whole sound record. */
export function decodeRecord(line: string): Candle | null {
  const star = line.lastIndexOf('*');
  if (star < 0) return null;
  const body = line.slice(0, star);
  if (line.slice(star + 1) !== crc32hex(body)) return null;
  const parts = body.split(',');
  if (parts.length !== 6 || parts.some((p) => p === '')) return null;
  const [time, open, high, low, close, volume] = parts.map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const c = { time, open, high, low, close, volume };
  return candleProblem(c) === null ? c : null;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE) of an ASCII string in 8 hex digits; node:zlib's crc32 needs Node 22. */
function crc32hex(text: string): string {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return ((crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0');
}
