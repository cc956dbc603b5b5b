"""A notebook run before the one that feeds it stops with a message naming the notebook to run first."""

import papermill
import pytest

from digit_recog import config


@pytest.mark.slow
@pytest.mark.parametrize(
    ("notebook", "needs"),
    [
        ("03_train.ipynb", "02_preprocess.ipynb"),
        ("04_evaluate.ipynb", "03_train.ipynb"),
        ("05_visualize.ipynb", "03_train.ipynb"),
        ("06_tune.ipynb", "02_preprocess.ipynb"),
        ("07_architectures.ipynb", "02_preprocess.ipynb"),
        ("08_robustness.ipynb", "03_train.ipynb"),
        ("10_other_writers.ipynb", "02_preprocess.ipynb"),
    ],
)
def test_out_of_order_notebook_names_its_prerequisite(notebook, needs, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_RECOG_OUTPUT_DIR", str(tmp_path / "empty"))
    with pytest.raises(papermill.PapermillExecutionError, match=f"run notebooks/{needs} first"):
        papermill.execute_notebook(
            config.NOTEBOOKS_DIR / notebook,
            tmp_path / notebook,
            kernel_name="python3",
            cwd=str(config.NOTEBOOKS_DIR),
            progress_bar=False,
        )
