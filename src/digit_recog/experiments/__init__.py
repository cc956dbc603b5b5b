"""Experiments the notebooks run beside the pipeline: the KerasTuner search (``search``), its chief and
workers on one machine or many (``distributed``), and the race between architectures
(``architecture_comparison``). They judge on the validation split only."""
