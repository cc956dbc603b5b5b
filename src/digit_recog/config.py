"""Every path the project reads or writes, and the defaults shared by notebooks and tests.

Inputs (the raw MNIST files) always live in the repository. Outputs (split, model, history,
figures, metrics) go under ``OUTPUT_ROOT``, which is the project root unless the environment
variable ``DIGIT_RECOG_OUTPUT_DIR`` points elsewhere; the test suite uses that to replay the
notebooks without touching the committed artefacts.
"""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
RAW_DATA_DIR = PROJECT_ROOT / "data" / "raw"

OUTPUT_ROOT = Path(os.environ.get("DIGIT_RECOG_OUTPUT_DIR", PROJECT_ROOT)).resolve()
PROCESSED_DATA_DIR = OUTPUT_ROOT / "data" / "processed"
MODELS_DIR = OUTPUT_ROOT / "models"
FIGURES_DIR = OUTPUT_ROOT / "figures"
REPORTS_DIR = OUTPUT_ROOT / "reports"
RUNS_DIR = OUTPUT_ROOT / "runs"  # experiments: a folder per run, and TensorBoard logs (git-ignored)

SPLIT_PATH = PROCESSED_DATA_DIR / "split_indices.npz"
MODEL_PATH = MODELS_DIR / "digit_recog_mnist_cnn.keras"
MODEL_VERSION_PATH = MODELS_DIR / "model_version.json"  # the shipped model's version and SHA-256
MODEL_CARD_PATH = MODELS_DIR / "MODEL_CARD.md"
CHECKPOINT_PATH = MODELS_DIR / "checkpoints" / "best_val_loss.keras"
HISTORY_PATH = REPORTS_DIR / "history.json"
TRAINING_SUMMARY_PATH = REPORTS_DIR / "training.json"
METRICS_PATH = REPORTS_DIR / "metrics.json"
ACCURACY_LOSS_FIGURE = FIGURES_DIR / "accuracy_loss.png"
PREDICTIONS_FIGURE = FIGURES_DIR / "predictions_3x5.png"

# Models the lab's benchmark trains (lab/benchmark.py): 08_robustness scores the original recipe's beside the
# shipped one, and the ensemble of the ``best`` preset ships here too.
BENCHMARK_MODELS_DIR = MODELS_DIR / "benchmark"
ORIGINAL_RECIPE_MODEL_PATH = BENCHMARK_MODELS_DIR / "seed_seed42.keras"

# The shipped model in other formats (`digit-recog export`, `make export`; git-ignored, rebuilt from the
# .keras file). The app and the CLI read with the ONNX file when it is present and onnxruntime is installed.
EXPORTED_MODELS_DIR = MODELS_DIR / "exported"
ONNX_MODEL_PATH = EXPORTED_MODELS_DIR / "digit_recog_mnist_cnn.onnx"
LITERT_MODEL_PATH = EXPORTED_MODELS_DIR / "digit_recog_mnist_cnn.tflite"
SAVED_MODEL_DIR = EXPORTED_MODELS_DIR / "saved_model"
WEB_SITE_DIR = OUTPUT_ROOT / "site"  # the drawing page that reads digits in the browser, no server needed

# Hyperparameter search (06_tune) and architecture comparison (07_architectures)
TUNER_DIR = MODELS_DIR / "tuner"  # KerasTuner's trial files; rerunning the same search resumes from here
TUNING_CSV_PATH = REPORTS_DIR / "tuning.csv"
BEST_HPARAMS_PATH = MODELS_DIR / "best_hparams.json"
TUNING_FIGURE = FIGURES_DIR / "tuning.png"
ARCHITECTURES_CSV_PATH = REPORTS_DIR / "architectures.csv"
ARCHITECTURES_FIGURE = FIGURES_DIR / "architectures.png"

# Your own digits: robustness to perturbations (08_robustness) and the web app's screenshot
ROBUSTNESS_CSV_PATH = REPORTS_DIR / "robustness.csv"
ROBUSTNESS_FIGURE = FIGURES_DIR / "robustness.png"
ROBUSTNESS_EXAMPLES_FIGURE = FIGURES_DIR / "robustness_examples.png"
OTHER_WRITERS_FIGURE = FIGURES_DIR / "other_writers.png"
OTHER_WRITERS_PATH = REPORTS_DIR / "other_writers.json"  # accuracy on them, for the README's table
READING_REPORT_PATH = REPORTS_DIR / "reading.json"  # calibration, the styles set, verdicts (08_robustness)
WEB_APP_FIGURE = PROJECT_ROOT / "figures" / "web_app.png"  # written only by DIGIT_RECOG_SCREENSHOT runs

SEED = 42
VALIDATION_SIZE = 5_000
IMAGE_SIZE = 28
NUM_CLASSES = 10
