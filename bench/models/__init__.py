"""Detector zoo: registry, backbones, SSD heads, anchors, box coding, losses, export."""
