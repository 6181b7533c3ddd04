#!/usr/bin/env python3
"""The Python peers of ../shared/PEERS.md, re-run on this machine by `npm run bench`.

What a user would write instead of this project: Debian's OpenCV Python bindings,
cv2.setNumThreads(1) in every process, each task decoding its own JPEG (decode with
colour, then BGR->grey), the detector parameters of PEERS.md. Two shapes:
  sequential  one process, one thread, the four tasks of each frame in turn;
  pool        multiprocessing.Pool(N), one task at a time (chunksize 1).

Usage: python_peers.py FRAMES_DIR POOL_SIZE
Prints one JSON object: {"sequential": RUN, "pool": RUN} where RUN is
{"images", "seconds", "images_per_second", "totals": {people, faces, edge_pixels, corners}}.
"""
import json
import multiprocessing
import os
import sys
import time

import cv2

KINDS = ("object", "face", "edge", "corner")
CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
_hog = None
_cascade = None


def _init():
    global _hog, _cascade
    cv2.setNumThreads(1)
    _hog = cv2.HOGDescriptor()
    _hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    _cascade = cv2.CascadeClassifier(CASCADE)


def run_task(job):
    """One task from the JPEG bytes: (kind, bytes) -> (kind, count)."""
    kind, data = job
    img = cv2.imdecode(__import__("numpy").frombuffer(data, dtype="uint8"), cv2.IMREAD_COLOR)
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if kind == "object":
        boxes, _ = _hog.detectMultiScale(grey, winStride=(8, 8), padding=(8, 8), scale=1.05)
        return kind, len(boxes)
    if kind == "face":
        faces = _cascade.detectMultiScale(cv2.equalizeHist(grey), scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        return kind, len(faces)
    if kind == "edge":
        edges = cv2.Canny(cv2.GaussianBlur(grey, (5, 5), 0), 50, 150)
        return kind, int(cv2.countNonZero(edges))
    corners = cv2.goodFeaturesToTrack(grey, 500, 0.01, 10)
    return kind, 0 if corners is None else len(corners)


def _totals(results):
    t = {"people": 0, "faces": 0, "edge_pixels": 0, "corners": 0}
    name = {"object": "people", "face": "faces", "edge": "edge_pixels", "corner": "corners"}
    for kind, n in results:
        t[name[kind]] += n
    return t


def main():
    folder, pool_size = sys.argv[1], int(sys.argv[2])
    files = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))
    frames = []
    for f in files:
        with open(os.path.join(folder, f), "rb") as fh:
            frames.append(fh.read())
    jobs = [(kind, data) for data in frames for kind in KINDS]
    out = {}

    _init()
    t0 = time.perf_counter()
    results = [run_task(j) for j in jobs]
    s = time.perf_counter() - t0
    out["sequential"] = {"images": len(frames), "seconds": s, "images_per_second": len(frames) / s, "totals": _totals(results)}

    with multiprocessing.Pool(pool_size, initializer=_init) as pool:
        pool.map(run_task, jobs[: 4 * pool_size], chunksize=1)  # start-up and cascade loading, not timed
        t0 = time.perf_counter()
        results = pool.map(run_task, jobs, chunksize=1)
        s = time.perf_counter() - t0
    out["pool"] = {"images": len(frames), "seconds": s, "images_per_second": len(frames) / s, "totals": _totals(results)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
