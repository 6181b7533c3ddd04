/**
 * The image format a file's first bytes announce, among those OpenCV 4.6 decodes here
 * (JPEG, PNG, BMP, TIFF and BigTIFF, WebP, PBM/PGM/PPM, PAM, PFM, Sun raster, JPEG 2000,
 * OpenEXR, Radiance HDR; GIF is a video here), from each format's signature; undefined for
 * anything else. Used by the master for files named on the command line whose extension
 * says nothing (FFmpeg would take a JPEG 2000 or an EXR for a one-frame video), and by the
 * slave to say what a file that failed to decode was.
 *
 * @param head - the file's first bytes (at least 12 for WebP and JPEG 2000)
 * @returns the format's usual name (`JPEG`, `PNG`, ...)
 */
export function imageFormat(head: Buffer): string | undefined {
  const starts = (...bytes: number[]): boolean => bytes.every((b, i) => head[i] === b);
  if (starts(0xff, 0xd8, 0xff)) return 'JPEG';
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'PNG';
  if (starts(0x42, 0x4d)) return 'BMP'; // "BM"
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return 'TIFF'; // little- and big-endian
  if (starts(0x49, 0x49, 0x2b, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2b)) return 'BigTIFF';
  if (head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'WebP';
  const netpbm = /^P([1-7Ff])\s/.exec(head.toString('latin1', 0, 3))?.[1];
  if (netpbm !== undefined) return netpbm === '7' ? 'PAM' : netpbm === 'F' || netpbm === 'f' ? 'PFM' : 'PNM';
  if (starts(0x59, 0xa6, 0x6a, 0x95)) return 'Sun raster';
  if (starts(0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a) || starts(0xff, 0x4f, 0xff, 0x51)) return 'JPEG 2000'; // JP2 box, or a bare codestream
  if (starts(0x76, 0x2f, 0x31, 0x01)) return 'OpenEXR';
  if (/^#\?(RADIANCE|RGBE)/.test(head.toString('latin1', 0, 10))) return 'Radiance HDR';
  return undefined;
}
