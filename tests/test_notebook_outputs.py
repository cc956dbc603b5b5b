"""Cleaning committed notebook outputs drops TensorFlow's log noise and colour codes, and nothing else."""

import nbformat

from digit_recog import notebook_outputs

NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795692927.648438    2391 port.cc:153] oneDNN custom operations are on. You may see...\n"
)


def test_noise_lines_and_escape_codes_go_and_real_lines_stay():
    text = NOISE + '\x1b[1mModel: "default"\x1b[0m\nEpoch 1/2 - loss 0.5\n'
    assert notebook_outputs.clean_text(text) == 'Model: "default"\nEpoch 1/2 - loss 0.5\n'


def test_an_output_of_only_noise_is_dropped_and_figures_are_kept():
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("import tensorflow")
    figure = nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    )
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=NOISE), figure]
    notebook.cells = [cell, nbformat.v4.new_markdown_cell("# untouched")]
    assert notebook_outputs.clean_outputs(notebook) == 1
    assert cell.outputs == [figure]
    assert notebook_outputs.clean_outputs(notebook) == 0


def test_a_notebook_file_is_cleaned_in_place(tmp_path):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("model.summary()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="\x1b[1mTotal params\x1b[0m: 10\n")]
    notebook.cells = [cell]
    path = tmp_path / "03.ipynb"
    nbformat.write(notebook, path)
    assert notebook_outputs.main([str(path)]) == 0
    assert nbformat.read(path, as_version=4).cells[0].outputs[0]["text"] == "Total params: 10\n"
