"""Validation-only: the default preset trained 10 epochs instead of 11, 3 seeds.

The default met its accuracy goal but took 1.55-1.57x the original recipe's time against a 1.5x goal
(docs/performance.md); one epoch fewer would save about 9% of its training time. The control is the preset
as it is, "default_gpu_sweep_gains" in lab/reports/default_head_validation.jsonl (same seeds, same kind of
CPU).

Rule, written before any of these runs: 10 epochs replace 11 only if the mean validation accuracy over seeds
42-44 is at most 0.03 points below the control's (99.52%) and the mean on the other writers' digits
at most 0.3 points below (95.18%). The test set is not loaded. About 5-7 minutes a training on 2 AVX2 cores:

    .venv/bin/python -m lab.ablations.default_epochs_validation lab/reports/default_epochs_validation.jsonl
"""

from dataclasses import replace

from lab.ablations.handwriting_ablation import GPU_SWEEP_GAINS, output_path, write_validation_rows

TEN_EPOCHS = replace(GPU_SWEEP_GAINS, train=GPU_SWEEP_GAINS.train | {"epochs": 10})
write_validation_rows(output_path(), {"default_10_epochs": TEN_EPOCHS})
