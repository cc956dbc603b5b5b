"""Write the GPU sweep's data: the project's training part, validation split and other writers' digits.

The GPU machines have JAX but neither TensorFlow nor scikit-learn, so the arrays travel as one npz (about
10 MB, not committed). The test set is not written. Run from the project root with the project's venv:

    .venv/bin/python -m lab.gpu_sweep.make_data
"""

from pathlib import Path

import numpy as np

from digit_recog import data
from lab.ablations.handwriting_ablation import load_ablation_data

OUTPUT = Path(__file__).with_name("sweep_data.npz")

(images, labels), _ = data.load_mnist()
parts = load_ablation_data(images, labels)
np.savez_compressed(
    OUTPUT,
    x_train=parts.train_images,
    y_train=parts.train_labels,
    x_val=parts.val_images,
    y_val=parts.val_labels,
    x_other=parts.other_images,
    y_other=parts.other_labels,
)
print(
    f"{OUTPUT}: {len(parts.train_labels)} training, {len(parts.val_labels)} validation, "
    f"{len(parts.other_labels)} other digits"
)
