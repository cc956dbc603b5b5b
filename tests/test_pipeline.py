"""`make run` trains the shipped recipe whatever the working copy's cells say; committed notebooks are safe
to Run All in JupyterLab (no papermill cell, ``promote = False``) and stay unmodified when opened there."""

import nbformat
import pytest

from digit_recog import config, notebook_outputs, pipeline

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def _read(path):
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_committed_notebook_holds_papermills_injected_parameters(path):
    tags = [tag for cell in _read(path).cells for tag in cell.get("metadata", {}).get("tags", [])]
    assert notebook_outputs.INJECTED_TAG not in tags
    assert tags.count("parameters") == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_notebooks_carry_the_kernelspec_jupyterlab_writes(path):
    assert dict(_read(path).metadata["kernelspec"]) == notebook_outputs.KERNELSPEC


@pytest.mark.parametrize("name", sorted(pipeline.RECIPE))
def test_the_shipped_recipe_is_the_committed_cells_defaults_but_for_the_pipelines_switches(name):
    defaults = pipeline.cell_defaults(_read(config.NOTEBOOKS_DIR / name))
    only = pipeline.PIPELINE_ONLY.get(name, {})
    assert {key: False for key in only} == {key: defaults[key] for key in only}  # off in the cells
    assert pipeline.parameters_of(name) == defaults | only


def test_the_committed_train_notebook_never_promotes():
    defaults = pipeline.cell_defaults(_read(config.NOTEBOOKS_DIR / "03_train.ipynb"))
    assert defaults["promote"] is False and defaults["run_name"] is None


def test_make_run_gives_papermill_every_parameter_and_tidies_the_result(tmp_path, monkeypatch):
    import papermill

    path = tmp_path / "03_train.ipynb"
    given = {}

    def fake_execute(source, target, parameters, **options):
        given.update(parameters)
        notebook = _read(config.NOTEBOOKS_DIR / "03_train.ipynb")
        notebook.metadata["kernelspec"]["display_name"] = "Python 3"
        notebook.cells.insert(
            3, nbformat.v4.new_code_cell("promote = True", metadata={"tags": ["injected-parameters"]})
        )
        nbformat.write(notebook, target)

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    monkeypatch.delenv(pipeline.BATCH_RUN_VARIABLE, raising=False)
    pipeline.run_notebook(path)
    assert given == pipeline.RECIPE["03_train.ipynb"] and given["promote"] is True
    written = _read(path)
    assert pipeline.cell_defaults(written)["promote"] is False
    assert not any("injected-parameters" in cell.metadata.get("tags", []) for cell in written.cells)
    assert dict(written.metadata["kernelspec"]) == notebook_outputs.KERNELSPEC


def test_make_run_names_the_locally_modified_notebooks_first(monkeypatch, capsys):
    monkeypatch.setattr(pipeline, "modified_notebooks", lambda paths: ["notebooks/03_train.ipynb"])
    monkeypatch.setattr(pipeline, "run_notebook", lambda path: None)
    monkeypatch.setattr(pipeline.runs, "promote_trained", lambda: [])  # nothing was trained
    assert pipeline.main(["notebooks/03_train.ipynb"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("note: notebooks/03_train.ipynb differ from git") and "shipped recipe" in first


def test_cell_defaults_read_lists_and_dictionaries():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            'training_sets = ["mnist", "other"]  # a list\nstrengths = {"shift": [0, 2]}\nx = None',
            metadata={"tags": ["parameters"]},
        )
    ]
    assert pipeline.cell_defaults(notebook) == {
        "training_sets": ["mnist", "other"],
        "strengths": {"shift": [0, 2]},
        "x": None,
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_papermill_reads_every_parameter_of_the_parameters_cell(path):
    """A comment papermill cannot parse (an ``=`` in it) hides its parameter and prints a warning."""
    import ast

    from papermill.translators import PythonTranslator

    cell = next(cell for cell in _read(path).cells if "parameters" in cell.metadata.get("tags", []))
    assigned = [
        target.id
        for statement in ast.parse(cell.source).body
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        if isinstance(target, ast.Name)
    ]
    assert [parameter.name for parameter in PythonTranslator.inspect(cell)] == assigned
