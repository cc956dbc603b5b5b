"""The research wing: the benchmark, speed probes, ablations, the GPU sweep and the README's tables.

It imports the product (:mod:`digit_recog`) and never the reverse (``make lint`` checks it). Each module
runs as ``python -m lab.<name>`` from the project root; its reports go under ``lab/reports/``.
"""
