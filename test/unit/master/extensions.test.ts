import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { looksLikeImage, mediaType } from '../../../master/ingest/extensions.js';
import { imageFormat } from '../../../shared/image-format.js';
import { cv } from '../../../shared/opencv.js';
import { SAMPLE_VIDEO } from '../../helpers/fixtures.js';

describe('unit: media type by extension, and images told by their first bytes', () => {
  it('takes extensions case-insensitively, and GIF for a video', () => {
    expect(['a.JPG', 'b.tiff', 'c.Mp4', 'd.gif', 'e.dat', 'f'].map(mediaType)).to.deep.equal(['image', 'image', 'video', 'video', 'other', 'other']);
    // A JPEG as Windows saves it, and the other formats OpenCV reads that cameras and exports write.
    expect(['g.jfif', 'h.JP2', 'i.pnm', 'j.pam', 'k.ras', 'l.dib'].map(mediaType)).to.deep.equal(Array(6).fill('image'));
    expect(['m.hdr', 'n.pic', 'o.exr'].map(mediaType), 'ambiguous or float: only when named').to.deep.equal(Array(3).fill('other'));
    // Raw H.264/H.265 as DVRs export it.
    expect(['p.264', 'q.265', 'r.H264', 's.hevc'].map(mediaType)).to.deep.equal(Array(4).fill('video'));
  });

  it('knows the first 16 bytes of every format imencode writes here, and not those of a video or text', () => {
    const colour = new cv.Mat(37, 53, cv.CV_8UC3, [10, 200, 30]);
    const grey = colour.cvtColor(cv.COLOR_BGR2GRAY);
    const float = colour.convertTo(cv.CV_32FC3);
    const images: [string, typeof colour][] = [['.jpg', colour], ['.png', colour], ['.bmp', colour], ['.tiff', colour], ['.webp', colour], ['.ppm', colour], ['.pgm', grey], ['.pbm', grey], ['.pam', colour], ['.pfm', float], ['.ras', colour], ['.jp2', colour], ['.exr', float], ['.hdr', float]];
    for (const [ext, mat] of images) expect(looksLikeImage(cv.imencode(ext, mat).subarray(0, 16)), ext).to.equal(true);
    // Named, for the slave's message about an image that failed to decode.
    expect(images.map(([ext, mat]) => imageFormat(cv.imencode(ext, mat).subarray(0, 16)))).to.deep.equal(['JPEG', 'PNG', 'BMP', 'TIFF', 'WebP', 'PNM', 'PNM', 'PNM', 'PAM', 'PFM', 'Sun raster', 'JPEG 2000', 'OpenEXR', 'Radiance HDR']);
    expect(looksLikeImage(readFileSync(SAMPLE_VIDEO).subarray(0, 16)), 'an AVI').to.equal(false);
    expect(looksLikeImage(Buffer.from('shift notes: cam')), 'text').to.equal(false);
  });
});
