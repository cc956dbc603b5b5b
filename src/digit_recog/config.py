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

SPLIT_PATH = PROCESSED_DATA_DIR / "split_indices.npz"
MODEL_PATH = MODELS_DIR / "digit_recog_mnist_cnn.keras"
CHECKPOINT_PATH = MODELS_DIR / "checkpoints" / "best_val_loss.keras"
HISTORY_PATH = REPORTS_DIR / "history.json"
TRAINING_SUMMARY_PATH = REPORTS_DIR / "training.json"
METRICS_PATH = REPORTS_DIR / "metrics.json"
ACCURACY_LOSS_FIGURE = FIGURES_DIR / "accuracy_loss.png"
PREDICTIONS_FIGURE = FIGURES_DIR / "predictions_3x5.png"

SEED = 42
VALIDATION_SIZE = 5_000
IMAGE_SIZE = 28
NUM_CLASSES = 10
