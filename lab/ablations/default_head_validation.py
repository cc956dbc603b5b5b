"""Validation-only: the default preset with the GPU sweep's four small gains combined, 3 seeds.

The H200 sweep (lab/reports/gpu_sweep_h200.jsonl) measured each of these alone at +0.03 to +0.04 points of
validation accuracy, none beyond two standard errors: peak learning rate 6e-3, batch-norm momentum 0.9, a
dense layer of 256 units and dropout 0.2. This trains them together on the CPU with TensorFlow, as the
benchmark trains. The control is the preset as it is, "default_one_affine_blur_all" in
lab/reports/geometry_ablation_validation.jsonl (same seeds, same kind of CPU, so the same models).

Rule, written before any of these runs: the variant replaces the default's head and schedule only if its
mean validation accuracy over seeds 42-44 is at least 0.05 points above the control's (99.46%) and its mean
on the other writers' digits at most 0.3 points below (95.29%). The test set is not loaded. About 6-7
minutes a training on 2 AVX2 cores:

    .venv/bin/python -m lab.ablations.default_head_validation lab/reports/default_head_validation.jsonl
"""

from lab.ablations.handwriting_ablation import GPU_SWEEP_GAINS, output_path, write_validation_rows

write_validation_rows(output_path(), {"default_gpu_sweep_gains": GPU_SWEEP_GAINS})
