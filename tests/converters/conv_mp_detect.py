"""Standalone (runs in .venv-mediapipe): MediaPipe Tasks' ObjectDetector on images from an .npy file.

Usage: python mp_detect.py MODEL.tflite IMAGES.npy UPSCALE
Each [H, W, 3] uint8 image is enlarged UPSCALE times by pixel repetition, so MediaPipe's resize back to
the model input is exact and its integer pixel boxes are fine enough for an IoU > 0.99 comparison.
Prints JSON: per image, detections as {class, label, score, box: [ymin, xmin, ymax, xmax] normalised}.
"""

import json
import sys

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision


def main(model: str, images_file: str, upscale: str) -> None:
    k = int(upscale)
    options = vision.ObjectDetectorOptions(
        base_options=BaseOptions(model_asset_path=model), max_results=-1, score_threshold=0.0
    )
    detector = vision.ObjectDetector.create_from_options(options)
    results = []
    for image in np.load(images_file):
        big = np.ascontiguousarray(image.repeat(k, axis=0).repeat(k, axis=1))
        height, width = big.shape[:2]
        found = detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=big))
        detections = []
        for det in found.detections:
            box, top = det.bounding_box, det.categories[0]
            detections.append(
                {
                    "class": top.index,
                    "label": top.category_name,
                    "score": top.score,
                    "box": [
                        box.origin_y / height,
                        box.origin_x / width,
                        (box.origin_y + box.height) / height,
                        (box.origin_x + box.width) / width,
                    ],
                }
            )
        results.append(detections)
    print(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
