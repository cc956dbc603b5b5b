"""Write the GPU sweep's data: the project's training part, validation split and other writers' digits.

The GPU machines have JAX but neither TensorFlow nor scikit-learn, so the arrays travel as one npz (about
10 MB, not committed). The test set is not written. Run from the project root with the project's venv:

    .venv/bin/python bench/gpu_sweep/make_data.py
"""

from pathlib import Path

import numpy as np

from digit_recog import config, data, robustness

OUTPUT = Path(__file__).with_name("sweep_data.npz")

(images, labels), _ = data.load_mnist()
train_idx, val_idx = data.split_train_validation(labels, config.VALIDATION_SIZE, config.SEED)
other_images, other_labels = robustness.other_writers_digits()
np.savez_compressed(
    OUTPUT,
    x_train=images[train_idx],
    y_train=labels[train_idx],
    x_val=images[val_idx],
    y_val=labels[val_idx],
    x_other=other_images,
    y_other=other_labels,
)
print(f"{OUTPUT}: {len(train_idx)} training, {len(val_idx)} validation, {len(other_labels)} other digits")
