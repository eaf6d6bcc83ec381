"""COCO-format loading: the id <-> class mapping, normalised boxes, crowd and empty images, and one clear
line (exit code 2) for every kind of broken dataset."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from bench.data.coco import load_coco
from common.errors import InputError


def test_loads_mapping_boxes_crowd_and_empty_images(valid_split):
    dataset = load_coco(valid_split)

    assert dataset.category_ids == (2, 5, 9)  # sorted by COCO id
    assert dataset.class_names == ("circle", "square", "star")
    assert dataset.class_index == {2: 0, 5: 1, 9: 2}
    assert dataset.num_classes == 3
    assert dataset.annotations_path == valid_split
    assert dataset.dataset_id.startswith(f"{valid_split.parent.parent.name}/split@")
    a, b, empty = dataset.records
    assert (a.image_id, a.width, a.height, a.path.name) == (7, 64, 48, "a.png")
    # bbox [x, y, w, h] = [8, 4, 16, 12] on 64x48 -> ymin, xmin, ymax, xmax normalised
    np.testing.assert_allclose(a.boxes[0], [4 / 48, 8 / 64, 16 / 48, 24 / 64], rtol=1e-6)
    assert a.classes.tolist() == [2, 0] and a.iscrowd.tolist() == [False, True]
    assert a.boxes.dtype == np.float32 and a.classes.dtype == np.int32
    np.testing.assert_allclose(b.boxes[0], [0, 0, 1, 1])
    assert empty.boxes.shape == (0, 4) and empty.classes.shape == (0,)
    assert dataset.class_counts().tolist() == [0, 1, 1]  # crowd excluded
    assert dataset.class_counts(include_crowd=True).tolist() == [1, 1, 1]


def test_accepts_split_folder_and_subpixel_overhang(make_split, valid_document):
    # COCO's own boxes overhang the border by fractions of a pixel: accepted and clipped.
    valid_document["annotations"][2]["bbox"] = [0, 0, 32.5, 32.4]
    path = make_split(valid_document)
    dataset = load_coco(path.parent)
    assert dataset.records[1].boxes.max() == 1.0


def test_missing_annotations_list_is_rejected(make_split, valid_document):
    del valid_document["annotations"]
    with pytest.raises(InputError, match="missing top-level key 'annotations'"):
        load_coco(make_split(valid_document))


def test_deep_check_compares_image_sizes(make_split, valid_document):
    path = make_split(valid_document)
    Image.new("RGB", (10, 10)).save(path.parent / "images" / "b.png")
    load_coco(path)  # a shallow check only needs the files to exist
    with pytest.raises(InputError, match=r"b\.png is 10x10 but the JSON says 32x32"):
        load_coco(path, check_image_sizes=True)


def _break_missing_file(doc, path):
    (path.parent / "images" / "b.png").unlink()


def _break_box_outside(doc, path):
    doc["annotations"][0]["bbox"] = [60, 4, 16, 12]  # x + w = 76 > width 64


def _break_box_size(doc, path):
    doc["annotations"][1]["bbox"] = [8, 4, 0, 12]


def _break_image_size(doc, path):
    doc["images"][2]["height"] = 0


def _break_category(doc, path):
    doc["annotations"][2]["category_id"] = 4


def _break_annotation_key(doc, path):
    del doc["annotations"][1]["bbox"]


def _break_image_key(doc, path):
    del doc["images"][0]["width"]


def _break_top_level(doc, path):
    del doc["categories"]


def _break_image_id(doc, path):
    doc["annotations"][0]["image_id"] = 99


def _break_duplicate_id(doc, path):
    doc["images"][1]["id"] = 7


BROKEN = {
    "missing image file": (_break_missing_file, r"images\[1\] \(id 3\): image file not found: .*b\.png"),
    "box outside the image": (_break_box_outside, r"annotations\[0\] \(id 1\): box outside the image"),
    "non-positive box size": (_break_box_size, r"annotations\[1\] \(id 2\): non-positive box size"),
    "non-positive image size": (_break_image_size, r"images\[2\] \(id 11\): non-positive .*'height'.* got 0"),
    "unknown category id": (
        _break_category,
        r"annotations\[2\] \(id 5\): unknown category id 4; known ids: 2, 5, 9",
    ),
    "missing annotation key": (_break_annotation_key, r"annotations\[1\] \(id 2\): missing key 'bbox'"),
    "missing image key": (_break_image_key, r"images\[0\] \(id 7\): missing key 'width'"),
    "missing top-level key": (_break_top_level, r"missing top-level key 'categories'"),
    "unknown image id": (_break_image_id, r"annotations\[0\] \(id 1\): unknown image id 99"),
    "duplicate image id": (_break_duplicate_id, r"images\[1\]: duplicate id 7"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_each_broken_dataset_fails_with_one_line(kind, tmp_path, make_split, valid_document, cli):
    breaker, pattern = BROKEN[kind]
    path = make_split(valid_document)
    breaker(valid_document, path)
    path.write_text(json.dumps(valid_document))

    result = cli("dataset", "check", path)

    assert result.code == 2
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"edgebench: error: {path}: ")
    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ('{"images": [}', r"malformed JSON at line 1 column 13"),
        ("", r"malformed JSON at line 1 column 1"),
        (b'{"a": "\x80"}', r"malformed JSON: not UTF-8"),
        ("[1, 2]", r"expected a JSON object .* got a list"),
        ('{"images": {}, "annotations": [], "categories": []}', r"'images' must be a list; got an object"),
    ],
)
def test_malformed_json_fails_with_one_line(tmp_path, cli, text, pattern):
    path = tmp_path / "instances.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())

    result = cli("dataset", "check", path)

    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"edgebench: error: {path}: ")
    assert re.search(pattern, lines[0]), lines[0]


def test_many_problems_are_counted_not_listed(make_split, valid_document):
    for ann in valid_document["annotations"]:
        ann["category_id"] = 77
    with pytest.raises(InputError, match=r"unknown category id 77; .* \(and 2 more problems\)$"):
        load_coco(make_split(valid_document))


def test_missing_path_and_images_folder(tmp_path, make_split, valid_document, cli):
    result = cli("dataset", "check", tmp_path / "nowhere")
    assert result.code == 2 and "no COCO dataset here" in result.err
    path = make_split(valid_document, write_images=False)
    (path.parent / "images").rmdir()
    with pytest.raises(InputError, match="images folder not found"):
        load_coco(path)
    assert load_coco(path, check_files=False).records[0].image_id == 7


def test_check_prints_counts(valid_split, cli):
    result = cli("dataset", "check", valid_split.parent)

    assert result.code == 0, result.err
    assert "3 images, 3 boxes (1 crowd), 1 images without boxes, 3 categories" in result.out
    assert "2:circle 1, 5:square 1, 9:star 1" in result.out
    as_json = cli("dataset", "check", valid_split, "--json")
    report = json.loads(as_json.out)
    assert report[0]["images"] == 3 and report[0]["crowd_boxes"] == 1
