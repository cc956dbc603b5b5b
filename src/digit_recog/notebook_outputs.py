"""Keep committed notebooks meaningful and stable: no log noise, no papermill cell, JupyterLab's metadata.

TensorFlow's C++ libraries write notices (absl's "All log messages before absl::InitializeLog()", oneDNN's
and the CPU-feature lines, retracing warnings) to the kernel's stderr whatever ``TF_CPP_MIN_LOG_LEVEL`` says,
and Keras colours its model summary with ANSI escape codes. ``make run`` cleans each notebook it executes:

    python -m digit_recog.notebook_outputs notebooks/03_train.ipynb [...]

Only those lines go; every other output, figures included, stays as the run left it. :func:`tidy_outputs`
also drops papermill's ``injected-parameters`` cell (a committed one would replay ``make run``'s
``promote=True`` on every Run All in JupyterLab) and writes the kernelspec JupyterLab writes, so that opening
a notebook there leaves it unmodified.
"""

import re
import sys
from pathlib import Path

import nbformat

from digit_recog.artifacts import atomic_path

INJECTED_TAG = "injected-parameters"  # papermill's tag on the cell it adds under the parameters cell
# What JupyterLab writes for the project's kernel (ipykernel's own display name).
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NOISE_LINES = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\] .*"  # absl-formatted C++ log lines
    r"|.*oneDNN custom operations are on.*"
    r"|.*This TensorFlow binary is optimized to use available CPU instructions.*"
    r"|.*To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\."
    r"|WARNING:tensorflow:.*triggered tf\.function retracing.*"
    r"|.*Unable to register cu(DNN|FFT|BLAS) factory.*"
    r"|.*computation placer already registered.*)$"
)


def clean_text(text: str) -> str:
    """``text`` without ANSI escape codes and without the noise lines above."""
    lines = ANSI_ESCAPE.sub("", text).splitlines(keepends=True)
    return "".join(line for line in lines if not NOISE_LINES.match(line.rstrip("\n")))


def clean_outputs(notebook: nbformat.NotebookNode) -> int:
    """Clean every code cell's outputs in place; return how many outputs were dropped or changed."""
    touched = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                text = _joined(output.get("text", ""))
                output["text"] = clean_text(text)
                touched += output["text"] != text
                if not output["text"]:
                    continue
            elif "text/plain" in output.get("data", {}):
                text = _joined(output["data"]["text/plain"])
                output["data"]["text/plain"] = ANSI_ESCAPE.sub("", text)
                touched += output["data"]["text/plain"] != text
            kept.append(output)
        cell["outputs"] = kept
    return touched


def drop_injected_parameters(notebook: nbformat.NotebookNode) -> int:
    """Remove papermill's ``injected-parameters`` cells in place; return how many went."""
    kept = [cell for cell in notebook.cells if INJECTED_TAG not in cell.get("metadata", {}).get("tags", [])]
    dropped = len(notebook.cells) - len(kept)
    notebook.cells = kept
    return dropped


def set_kernelspec(notebook: nbformat.NotebookNode) -> int:
    """Give ``notebook`` the kernelspec JupyterLab writes; return 1 if it changed, else 0."""
    if dict(notebook.metadata.get("kernelspec", {})) == KERNELSPEC:
        return 0
    notebook.metadata["kernelspec"] = nbformat.from_dict(KERNELSPEC)
    return 1


def tidy_outputs(notebook: nbformat.NotebookNode) -> int:
    """Clean the outputs, drop papermill's injected cell and set the kernelspec; return how many changes."""
    return clean_outputs(notebook) + drop_injected_parameters(notebook) + set_kernelspec(notebook)


def _joined(text: str | list[str]) -> str:
    return "".join(text) if isinstance(text, list) else text


def tidy_file(path: Path) -> int:
    """Tidy the notebook at ``path`` in place (atomically, see :func:`tidy_outputs`); return the changes."""
    notebook = nbformat.read(path, as_version=4)
    touched = tidy_outputs(notebook)
    if touched:
        with atomic_path(Path(path)) as tmp_path:
            nbformat.write(notebook, tmp_path)
    return touched


def main(argv: list[str] | None = None) -> int:
    """Tidy each notebook named on the command line; print how many changes each needed."""
    for name in argv if argv is not None else sys.argv[1:]:
        print(f"{name}: {tidy_file(Path(name))} outputs or cells tidied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
