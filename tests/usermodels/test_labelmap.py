"""Label maps: reading the three formats, matching by name, and remapping a detector's classes."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from bench.data.coco import load_coco
from bench.evaluation import evaluate_detector
from bench.evaluation.labelmap import (
    MappedDetector,
    build_mapping,
    load_mapping,
    metadata_labels,
    read_class_names,
)
from common.errors import InputError

PBTXT = """
item {
  name: "/m/01g317"
  id: 1
  display_name: "person"
}
item { name: "/m/0k4j" id: 3 display_name: "Car" }
item { id: 18 name: 'dog' }
"""


def test_labelmap_txt_drops_the_background_line_and_keeps_unused_ids(tmp_path):
    path = tmp_path / "labelmap.txt"
    path.write_text("???\nperson\nbicycle\n???\n Dog \n\n")
    assert read_class_names(path) == [("person",), ("bicycle",), (), ("Dog",)]


def test_pbtxt_ids_are_one_based_and_match_display_name_or_name(tmp_path):
    path = tmp_path / "map.pbtxt"
    path.write_text(PBTXT)
    names = read_class_names(path)
    assert len(names) == 18 and names[0] == ("person", "/m/01g317") and names[2] == ("Car", "/m/0k4j")
    assert names[17] == ("dog",) and names[1] == ()
    mapping = build_mapping(names, ["car", "person", "dog", "zebra"])
    assert mapping.to_dataset[[0, 2, 17]].tolist() == [1, 0, 2]
    assert (np.delete(mapping.to_dataset, [0, 2, 17]) == -1).all()
    assert mapping.unpredictable == ("zebra",) and mapping.ignored == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("item { name: 'a' }", "no integer id"),
        ("item { id: 0 name: 'a' }", "id below 1"),
        ("item { id: 2 name: 'a' } item { id: 2 name: 'b' }", "a repeated id"),
        ("item { id: 2 }", "no name"),
    ],
)
def test_broken_pbtxt_names_the_item(tmp_path, text, message):
    path = tmp_path / "bad.pbtxt"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_class_names(path)


def test_mapping_reports_ignored_classes_and_unpredictable_categories():
    names = [("person",), ("bicycle",), ("CAR ",), (), ("cat",)]
    mapping = build_mapping(names, ["car", "Person", "dog"])
    assert mapping.to_dataset.tolist() == [1, -1, 0, -1, -1]
    assert mapping.ignored == ("bicycle", "cat") and mapping.unpredictable == ("dog",)
    line = mapping.describe()
    assert "2 model classes matched" in line and "bicycle, cat" in line and "cannot predict: dog" in line


def test_a_label_map_matching_nothing_is_an_error():
    with pytest.raises(InputError, match="none of its 2 class names"):
        build_mapping([("a",), ("b",)], ["car"])


def test_label_file_appended_to_a_tflite_as_zip_is_read(tmp_path):
    # Metadata writers append associated files as a zip after the flatbuffer; a reader must not care
    # what comes before the archive.
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("labels.txt", "???\nperson\ncar\n")
        handle.writestr("readme.md", "not labels")
    path = tmp_path / "model.tflite"
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(200) + archive.getvalue())
    assert metadata_labels(path) == "???\nperson\ncar\n"
    assert read_class_names(path) == [("person",), ("car",)]
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(200))
    assert metadata_labels(bare) is None
    with pytest.raises(InputError, match="holds no label file"):
        read_class_names(bare)


def test_missing_label_map_file_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_mapping(tmp_path / "nope.txt", ["a"])


class _PerfectDetector:
    """Returns the ground truth of each image, with classes in the *model's* index space."""

    def __init__(self, dataset, to_model):
        self.boxes = {}
        for record in dataset.records:
            self.boxes[record.path.name] = (np.asarray(record.boxes), to_model[np.asarray(record.classes)])
        self.order = iter(dataset.records)

    def __call__(self, image):
        boxes, classes = self.boxes[next(self.order).path.name]
        extra = np.array([[0.0, 0.0, 0.5, 0.5]])  # a detection of a class the data does not have
        return (
            np.concatenate([boxes, extra]),
            np.concatenate([classes, [1]]),
            np.concatenate([np.full(len(classes), 0.9), [0.99]]),
        )


def test_mapped_detector_scores_a_perfect_model_in_another_index_space(split, tmp_path):
    dataset = load_coco(split)
    labelmap = tmp_path / "labelmap.txt"
    labelmap.write_text("???\nperson\nbicycle\ncar\n???\ndog\n")
    mapping = load_mapping(labelmap, list(dataset.class_names))  # dataset: Car, person, dog
    to_model = np.array([2, 0, 4])  # dataset class -> model class
    detector = MappedDetector(_PerfectDetector(dataset, to_model), mapping)
    metrics = evaluate_detector(detector, dataset)
    assert metrics.map == pytest.approx(1.0)
    assert mapping.ignored == ("bicycle",) and mapping.unpredictable == ()


def test_a_class_index_beyond_the_label_map_is_an_error(split):
    dataset = load_coco(split)
    mapping = build_mapping([("person",), ("car",)], list(dataset.class_names))
    detector = MappedDetector(lambda image: (np.zeros((1, 4)), np.array([5]), np.array([0.5])), mapping)
    with pytest.raises(InputError, match="class index 5 outside the label map's 0..1"):
        evaluate_detector(detector, dataset)
