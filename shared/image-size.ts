/** An image's size as its header gives it, px. */
export interface ImageSize {
  width: number;
  height: number;
}

/** Header bytes searched for the text headers (PNM, PAM, PFM, Radiance HDR) and JPEG 2000 boxes. */
const TEXT_HEADER_BYTES = 4096;
/** Most TIFF directory entries or OpenEXR attributes walked: real files have tens. */
const MAX_HEADER_ENTRIES = 4096;

/**
 * Reads an image's width and height from its header without decoding it, for every format
 * OpenCV 4.6's `imdecode` reads (imgcodecs' decoders): PNG, JPEG, BMP, TIFF (and BigTIFF),
 * WebP, PNM (PBM/PGM/PPM), PAM, PFM, Sun raster, JPEG 2000 (JP2 and a bare codestream),
 * OpenEXR and Radiance HDR. So an image over `--max-image-pixels` is refused before it is
 * decoded, whatever its format: a small compressed file (an 8.6 MB TIFF of 30000x30000 px)
 * decodes to GBs, and a header over OpenCV's own limit (2^30 px, `CV_IO_MAX_IMAGE_PIXELS`)
 * makes `imdecode` throw past the binding, which aborts the worker (SIGABRT, seen with a
 * 60000x60000 PPM header). The slave's memory budget sizes images by it too.
 *
 * @returns undefined for other data, and for a header too damaged to read (OpenCV then
 *   fails to decode it as well)
 */
export function peekImageSize(bytes: Buffer): ImageSize | undefined {
  try {
    return png(bytes) ?? jpeg(bytes) ?? bmp(bytes) ?? tiff(bytes) ?? webp(bytes) ?? portableMap(bytes) ?? sunRaster(bytes) ?? jpeg2000(bytes) ?? openExr(bytes) ?? radiance(bytes);
  } catch (err) {
    // A length or offset pointing past the end: not a header to trust.
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

/** PNG: IHDR is the first chunk (PNG spec §5.3, §11.2.2). */
function png(b: Buffer): ImageSize | undefined {
  if (b.length < 24 || b.readUInt32BE(0) !== 0x89504e47) return undefined;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/**
 * JPEG: the segments up to the first SOFn marker (ITU T.81 B.2.2), found as libjpeg finds
 * markers (`jdmarker.c` `next_marker`): bytes other than `FF` before a marker are skipped
 * (with a warning there), as are `FF` fill bytes (T.81 B.1.1.2) and a stuffed `FF00`. A
 * walk that stopped at either let three fill bytes before SOF hide a 30000x30000 image,
 * which a worker then decoded (2.8 GB; found by QA).
 */
function jpeg(b: Buffer): ImageSize | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  for (;;) {
    const ff = b.indexOf(0xff, i);
    if (ff < 0) return undefined;
    i = ff;
    while (i < b.length && b[i] === 0xff) i++;
    if (i >= b.length) return undefined;
    const marker = b[i++] ?? 0;
    // A stuffed FF00, RSTn and TEM have no length.
    if (marker === 0x00 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    // SOS or EOI before any SOF: libjpeg fails too.
    if (marker === 0xda || marker === 0xd9) return undefined;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      // Lf (2 bytes), P (1), Y (2), X (2).
      return { height: b.readUInt16BE(i + 3), width: b.readUInt16BE(i + 5) };
    }
    const len = b.readUInt16BE(i);
    if (len < 2) return undefined;
    i += len;
  }
}

/**
 * BMP: BITMAPINFOHEADER and later (int32 sizes, height negative when top-down), or OS/2's
 * 12-byte core header (uint16). Only a header OpenCV 4.6's `BmpDecoder::readHeader` takes
 * (its width, height, bits a pixel and compression; grfmt_bmp.cpp): for any other,
 * `imdecode` fails without reading a size, and a damaged file or text starting with "BM"
 * read as 808268850x825240881 px was refused as too large (found by QA).
 */
function bmp(b: Buffer): ImageSize | undefined {
  if (b.length < 26 || b.toString('latin1', 0, 2) !== 'BM') return undefined;
  const headerBytes = b.readInt32LE(14);
  if (headerBytes === 12) {
    const [width, height, bits] = [b.readUInt16LE(18), b.readUInt16LE(20), b.readUInt16LE(24)];
    return width > 0 && height > 0 && [1, 4, 8, 24, 32].includes(bits) ? { width, height } : undefined;
  }
  if (headerBytes < 36) return undefined;
  const [width, height, bits, compression] = [b.readInt32LE(18), b.readInt32LE(22), b.readUInt16LE(28), b.readInt32LE(30)];
  const taken = width > 0 && height !== 0 && (BMP_BITS_BY_COMPRESSION[compression]?.includes(bits) ?? false);
  return taken ? { width, height: Math.abs(height) } : undefined;
}

/** Bits a pixel OpenCV 4.6 decodes, by BMP compression: BI_RGB, BI_RLE8, BI_RLE4, BI_BITFIELDS. */
const BMP_BITS_BY_COMPRESSION: readonly (readonly number[])[] = [[1, 4, 8, 16, 24, 32], [8], [4], [16, 32]];

/** TIFF: ImageWidth (256) and ImageLength (257) of the first directory, the page OpenCV reads (TIFF 6.0 §2; BigTIFF: 8-byte offsets and counts). */
function tiff(b: Buffer): ImageSize | undefined {
  if (b.length < 8) return undefined;
  const little = b[0] === 0x49 && b[1] === 0x49;
  if (!little && !(b[0] === 0x4d && b[1] === 0x4d)) return undefined;
  const u16 = (at: number): number => (little ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const u32 = (at: number): number => (little ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const u64 = (at: number): number => Number(little ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at));
  const version = u16(2);
  const big = version === 43;
  if (version !== 42 && !big) return undefined;
  const ifd = big ? u64(8) : u32(4);
  const entries = big ? u64(ifd) : u16(ifd);
  const first = ifd + (big ? 8 : 2);
  const size = big ? 20 : 12;
  const valueAt = big ? 12 : 8;
  let width: number | undefined;
  let height: number | undefined;
  for (let n = 0; n < Math.min(entries, MAX_HEADER_ENTRIES) && (width === undefined || height === undefined); n++) {
    const e = first + n * size;
    const tag = u16(e);
    if (tag !== 256 && tag !== 257) continue;
    const type = u16(e + 2);
    // SHORT, LONG, or BigTIFF's LONG8.
    const value = type === 3 ? u16(e + valueAt) : type === 4 ? u32(e + valueAt) : type === 16 ? u64(e + valueAt) : undefined;
    if (tag === 256) width = value;
    else height = value;
  }
  return width === undefined || height === undefined ? undefined : { width, height };
}

/** WebP: the first chunk, lossy `VP8 ` (14-bit sizes in the key frame header), lossless `VP8L` or extended `VP8X` (24-bit canvas size); RFC 9649. */
function webp(b: Buffer): ImageSize | undefined {
  if (b.length < 30 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WEBP') return undefined;
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  }
  if (chunk === 'VP8L' && b[20] === 0x2f) {
    const bits = b.readUInt32LE(21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
  return undefined;
}

/**
 * Netpbm: PBM/PGM/PPM (`P1`-`P6`: width and height as the first two numbers, `#` comments
 * allowed between them), PFM (`PF`/`Pf`), and PAM (`P7`: `WIDTH` and `HEIGHT` lines up to
 * `ENDHDR`).
 */
function portableMap(b: Buffer): ImageSize | undefined {
  if (b.length < 3 || b[0] !== 0x50) return undefined;
  const kind = String.fromCharCode(b[1] ?? 0);
  const text = b.toString('latin1', 0, Math.min(b.length, TEXT_HEADER_BYTES));
  if (!/\s/.test(text.charAt(2))) return undefined;
  if (kind === '7') {
    const header = text.split('ENDHDR')[0] ?? '';
    const width = /^WIDTH\s+(\d+)/m.exec(header)?.[1];
    const height = /^HEIGHT\s+(\d+)/m.exec(header)?.[1];
    return width === undefined || height === undefined ? undefined : { width: Number(width), height: Number(height) };
  }
  if (!'123456Ff'.includes(kind)) return undefined;
  const numbers: number[] = [];
  let i = 2;
  while (numbers.length < 2 && i < text.length) {
    const c = text.charAt(i);
    if (c === '#') {
      while (i < text.length && text.charAt(i) !== '\n' && text.charAt(i) !== '\r') i++;
    } else if (/\s/.test(c)) {
      i++;
    } else {
      const digits = /^\d+/.exec(text.slice(i, i + 12))?.[0];
      if (digits === undefined) return undefined;
      numbers.push(Number(digits));
      i += digits.length;
    }
  }
  const [width, height] = numbers;
  return width === undefined || height === undefined ? undefined : { width, height };
}

/** Sun raster: magic 0x59a66a95, then width and height as big-endian int32. */
function sunRaster(b: Buffer): ImageSize | undefined {
  if (b.length < 12 || b.readUInt32BE(0) !== 0x59a66a95) return undefined;
  return { width: b.readUInt32BE(4), height: b.readUInt32BE(8) };
}

/**
 * JPEG 2000: a JP2 file's `ihdr` box inside its `jp2h` box (ISO/IEC 15444-1 I.5.3.1:
 * height, then width), or a bare codestream's SIZ marker (A.5.1: size less offset).
 */
function jpeg2000(b: Buffer): ImageSize | undefined {
  if (b.length >= 24 && b.readUInt32BE(0) === 0xff4fff51) {
    return { width: b.readUInt32BE(8) - b.readUInt32BE(16), height: b.readUInt32BE(12) - b.readUInt32BE(20) };
  }
  if (b.length < 12 || b.readUInt32BE(0) !== 12 || b.toString('latin1', 4, 8) !== 'jP  ') return undefined;
  const end = Math.min(b.length, TEXT_HEADER_BYTES);
  const ihdr = b.indexOf('ihdr', 12, 'latin1');
  if (ihdr < 0 || ihdr + 12 > end) return undefined;
  return { height: b.readUInt32BE(ihdr + 4), width: b.readUInt32BE(ihdr + 8) };
}

/** OpenEXR: the header's `dataWindow` attribute (box2i: xMin, yMin, xMax, yMax, inclusive), OpenEXR file layout. */
function openExr(b: Buffer): ImageSize | undefined {
  if (b.length < 8 || b.readUInt32LE(0) !== 20000630) return undefined;
  let i = 8;
  const cString = (): string => {
    const nul = b.indexOf(0, i);
    if (nul < 0 || nul - i > 255) throw new RangeError('not an attribute name');
    const s = b.toString('latin1', i, nul);
    i = nul + 1;
    return s;
  };
  for (let n = 0; n < MAX_HEADER_ENTRIES; n++) {
    const name = cString();
    if (name === '') return undefined;
    const type = cString();
    const size = b.readInt32LE(i);
    i += 4;
    if (name === 'dataWindow' && type === 'box2i' && size === 16) {
      return { width: b.readInt32LE(i + 8) - b.readInt32LE(i) + 1, height: b.readInt32LE(i + 12) - b.readInt32LE(i + 4) + 1 };
    }
    if (size < 0) return undefined;
    i += size;
  }
  return undefined;
}

/** Radiance HDR: text lines up to an empty one, then the resolution line (`-Y 576 +X 768`, either axis first). */
function radiance(b: Buffer): ImageSize | undefined {
  if (b.length < 2 || b[0] !== 0x23 || b[1] !== 0x3f) return undefined;
  const text = b.toString('latin1', 0, Math.min(b.length, TEXT_HEADER_BYTES));
  const blank = text.indexOf('\n\n');
  if (blank < 0) return undefined;
  const m = /^([-+])([XY]) (\d+) ([-+])([XY]) (\d+)/.exec(text.slice(blank + 2));
  if (m === null || m[2] === m[5]) return undefined;
  const first = Number(m[3]);
  const second = Number(m[6]);
  return m[2] === 'Y' ? { height: first, width: second } : { width: first, height: second };
}
