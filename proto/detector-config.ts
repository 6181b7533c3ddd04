import { z } from 'zod/v4';

/** Odd kernel sizes 1-31, px (OpenCV's Gaussian kernels must be odd). */
const ODD_KERNEL_SIZES_PX = Array.from({ length: 16 }, (_, i) => 2 * i + 1);

/**
 * Parameters of every detector, sent with each TASK so that all slaves run the same
 * detectors, and recorded in the batch header of the results file.
 *
 * Defaults are those of the Python/OpenCV peers we are measured against
 * (`test/bench/peers/python_peers.py`; the team's PEERS.md, outside this repository),
 * which follow OpenCV 4.6's documented defaults where not stated.
 */
export const DetectorConfigSchema = z.object({
  /** HOG people detector (Dalal & Triggs 2005; OpenCV `HOGDescriptor::getDefaultPeopleDetector`). */
  object: z.object({
    /** Detection window step, px. */
    winStridePx: z.int().min(1).max(64),
    /** Padding around the image, px. */
    paddingPx: z.int().min(0).max(64),
    /** Pyramid scale step (> 1). */
    scale: z.number().gt(1).max(2),
    /** SVM distance threshold; OpenCV default 0. */
    hitThreshold: z.number().min(-10).max(10),
    /** Minimum neighbours to keep a grouped box; OpenCV default 2. */
    groupThreshold: z.int().min(0).max(100),
  }),
  /** Viola-Jones Haar cascade (OpenCV `CascadeClassifier`). */
  face: z.object({
    /** Cascade file name, looked up in the slave's cascade folders, or an absolute path. */
    cascade: z.string().min(1).max(512),
    /** Pyramid scale step (> 1). */
    scaleFactor: z.number().gt(1).max(2),
    /** Neighbours a candidate needs to be kept. */
    minNeighbors: z.int().min(0).max(100),
    /** Smallest face searched for, px (square). */
    minSizePx: z.int().min(1).max(4096),
    /** Run `equalizeHist` on the grey image first. */
    equalizeHist: z.boolean(),
  }),
  /** Canny edges on a Gaussian-blurred grey image (BORDER_REFLECT_101, OpenCV's default). */
  edge: z.object({
    /**
     * Gaussian kernel size, px: odd, 1-31. A list rather than a refinement, so that TASK
     * has a JSON Schema form and takes the compiled validator (`fast-validate.ts`).
     */
    blurKernelPx: z.literal(ODD_KERNEL_SIZES_PX),
    /** Gaussian sigma, px; 0 derives it from the kernel size. */
    blurSigma: z.number().min(0).max(100),
    /**
     * Canny hysteresis thresholds on the gradient magnitude (3x3 Sobel, L1 norm, grey levels):
     * a pixel above `highThreshold` is an edge, one above `lowThreshold` only when connected
     * to one.
     */
    lowThreshold: z.number().min(0).max(10000),
    highThreshold: z.number().min(0).max(10000),
  }),
  /** Shi-Tomasi corners (OpenCV `goodFeaturesToTrack`, Shi & Tomasi 1994). */
  corner: z.object({
    /** Most corners returned, strongest first. */
    maxCorners: z.int().min(1).max(100000),
    /** Least corner quality kept, as a fraction of the strongest corner's (OpenCV `qualityLevel`). */
    qualityLevel: z.number().gt(0).max(1),
    /** Minimum distance between corners, px. */
    minDistancePx: z.number().min(0).max(10000),
    /** Neighbourhood size for the eigenvalue computation, px; OpenCV default 3. */
    blockSize: z.int().min(1).max(31),
  }),
});

/** Parameters of every detector; see {@link DetectorConfigSchema}. */
export type DetectorConfig = z.infer<typeof DetectorConfigSchema>;

/** The parameters of the Python peers (`test/bench/peers/python_peers.py`). */
export const DEFAULT_DETECTOR_CONFIG: DetectorConfig = {
  object: { winStridePx: 8, paddingPx: 8, scale: 1.05, hitThreshold: 0, groupThreshold: 2 },
  face: {
    cascade: 'haarcascade_frontalface_default.xml',
    scaleFactor: 1.1,
    minNeighbors: 5,
    minSizePx: 24,
    equalizeHist: true,
  },
  edge: { blurKernelPx: 5, blurSigma: 0, lowThreshold: 50, highThreshold: 150 },
  corner: { maxCorners: 500, qualityLevel: 0.01, minDistancePx: 10, blockSize: 3 },
};
