"""The bottom layer every edgebench package may import and that imports none of them.

It holds what all stages share and no stage owns: the user-error type (``errors``), the one way to
shell out (``process``), and small helpers with no dependency on TensorFlow or the record schema.
"""
