"""Distributed runs on a Ray cluster (``edgebench benchmark --cluster``, ``edgebench lab node``).

Only this package imports Ray, and only when a run asks for a cluster: a plain benchmark never loads it.
:mod:`bench.cluster.tasks` holds the remote functions (train, export + evaluate, time), which rebuild a
pipeline pass inside the task and call the ordinary stage functions; :mod:`bench.cluster.scheduler`
submits them and collects the results; :mod:`bench.cluster.lab` declares a USB host's targets as Ray
resources; :mod:`bench.cluster.shipping` moves artifacts between nodes, checked by sha256.
"""
