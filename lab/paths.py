"""Where the lab writes: its reports and figures live under ``lab/``, apart from the product's.

The lab's models stay under ``models/benchmark/`` (:data:`digit_recog.config.BENCHMARK_MODELS_DIR`), since
``08_robustness`` scores the original recipe's model from there and the ensemble of ``best`` ships there.
"""

from digit_recog import config

LAB_DIR = config.PROJECT_ROOT / "lab"
LAB_OUTPUT_DIR = config.OUTPUT_ROOT / "lab"  # moves with DIGIT_RECOG_OUTPUT_DIR, like the product's outputs
REPORTS_DIR = LAB_OUTPUT_DIR / "reports"
FIGURES_DIR = LAB_OUTPUT_DIR / "figures"

README_PATH = config.PROJECT_ROOT / "README.md"  # its Results table (results_table.py)
BENCHMARK_PAGE_PATH = config.PROJECT_ROOT / "docs" / "benchmark.md"  # its table (benchmark.py --update-docs)
BENCHMARK_PATH = REPORTS_DIR / "benchmark.json"
# The shipped recipe and the original recipe in one run (`make bench-shipped`): the
# README's Results table quotes it.
SHIPPED_BENCHMARK_PATH = REPORTS_DIR / "benchmark_shipped.json"
SHIPPED_BENCHMARK_FIGURE = FIGURES_DIR / "accuracy_vs_time_shipped.png"
BENCHMARK_QUICK_PATH = REPORTS_DIR / "benchmark_quick.json"
BENCHMARK_QUICK_MODELS_DIR = config.MODELS_DIR / "benchmark_quick"
ACCURACY_VS_TIME_FIGURE = FIGURES_DIR / "accuracy_vs_time.png"
ACCURACY_VS_TIME_QUICK_FIGURE = FIGURES_DIR / "accuracy_vs_time_quick.png"
PERF_PROBE_PATH = REPORTS_DIR / "perf_probe.json"
AUGMENT_PROBE_PATH = REPORTS_DIR / "augment_probe.json"
