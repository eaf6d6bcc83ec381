"""Standalone: write TFLite metadata for MediaPipe Tasks' ObjectDetector (runs in .venv-mediapipe).

Imports only the standard library and mediapipe 0.10.14 (never edgebench: it runs in the separate
environment). Usage::

    python mp_write_metadata.py IN.tflite OUT.tflite LABELS.json MEAN STD

Writes OUT.tflite (IN plus metadata: labels, input normalisation, the four output tensors of
TFLite_Detection_PostProcess) and prints a JSON summary on stdout.
"""

import json
import sys


def main(argv: list[str]) -> int:
    source, destination, labels_file, mean, std = argv
    import mediapipe
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, object_detector

    with open(labels_file) as handle:
        labels = json.load(handle)
    with open(source, "rb") as handle:
        model = bytearray(handle.read())
    writer = object_detector.MetadataWriter.create_for_models_with_nms(
        model, [float(mean)], [float(std)], metadata_writer.Labels().add(labels)
    )
    content, metadata_json = writer.populate()
    with open(destination, "wb") as handle:
        handle.write(content)
    metadata = json.loads(metadata_json)
    graph = metadata["subgraph_metadata"][0]
    summary = {
        "writer": f"mediapipe {mediapipe.__version__} "
        "object_detector.MetadataWriter.create_for_models_with_nms",
        "name": metadata.get("name"),
        "input_norm": {"mean": float(mean), "std": float(std)},
        "labels": len(labels),
        "inputs": [t["name"] for t in graph["input_tensor_metadata"]],
        "outputs": [t["name"] for t in graph["output_tensor_metadata"]],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
