"""The ``digit-recog`` command: reads image files and folders, reports failures without stopping."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from digit_images import (
    SHIPPED_MODEL,
    as_scan,
    draw_digit,
    draw_into,
    needs_shipped_model,
    run_cli,
    untrained_model_file,
)
from digit_recog import __version__, artifacts, cli, config, drawn

SCANS = 20


@pytest.fixture(scope="module")
def scans(mnist, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """A folder of MNIST test digits written as PNG scans (dark ink on paper), and their labels."""
    _, (test_images, test_labels) = mnist
    folder = tmp_path_factory.mktemp("scans")
    labels = {}
    for index in range(SCANS):
        path = folder / f"scan_{index:02d}.png"
        as_scan(test_images[index], seed=index).save(path)
        labels[str(path)] = int(test_labels[index])
    (folder / "notes.txt").write_text("not an image: the folder listing skips it")
    return folder, labels


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory) -> Path:
    return untrained_model_file(tmp_path_factory.mktemp("model"))


@needs_shipped_model
def test_folder_of_scans_is_read(capsys, scans):
    folder, labels = scans
    status, lines, _ = run_cli(capsys, "predict", str(folder), "--model", str(SHIPPED_MODEL))
    assert status == 0
    assert len(lines) == SCANS  # notes.txt is not an image
    paths = [line.split(": ")[0] for line in lines]
    assert paths == sorted(labels)
    correct = sum(int(line.split(": ")[1].split()[0]) == labels[path] for path, line in zip(paths, lines))
    assert correct >= 0.9 * SCANS
    assert all(line.count("%") == 3 for line in lines)  # the top 3, with their probabilities


def test_json_lines_parse(capsys, scans, untrained_model):
    folder, labels = scans
    status, lines, _ = run_cli(
        capsys, "predict", str(folder), "--json", "--top", "2", "--model", str(untrained_model)
    )
    assert status == 0
    records = [json.loads(line) for line in lines]
    assert [record["path"] for record in records] == sorted(labels)
    for record in records:
        assert set(record) == {"path", "digit", "verdict", "probabilities", "top"}
        assert record["verdict"] == "digit"  # a model without thresholds always answers a digit
        assert len(record["probabilities"]) == 10
        assert sum(record["probabilities"]) == pytest.approx(1, abs=1e-4)
        assert [entry["digit"] for entry in record["top"]][0] == record["digit"]
        assert len(record["top"]) == 2


def test_missing_and_broken_files_are_reported_and_the_rest_still_read(
    capsys, scans, tmp_path, untrained_model
):
    folder, labels = scans
    first, second = sorted(labels)[:2]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG but not really")
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    arguments = [first, str(tmp_path / "missing.png"), str(broken), str(blank), second]
    status, lines, errors = run_cli(capsys, "predict", *arguments, "--model", str(untrained_model))
    assert status == 1
    assert [line.split(": ")[0] for line in lines] == [first, second]
    assert "missing.png: no such file or folder" in errors
    assert "broken.png is not an image" in errors
    assert "blank.png: no digit found" in errors


def test_missing_model_names_the_notebook_that_trains_it(capsys, scans, tmp_path):
    folder, _ = scans
    status, lines, errors = run_cli(capsys, "predict", str(folder), "--model", str(tmp_path / "none.keras"))
    assert status == 2 and not lines
    assert "03_train.ipynb" in errors


def test_empty_folder_is_an_error(capsys, tmp_path):
    status, _, errors = run_cli(capsys, "predict", str(tmp_path))
    assert status == 1 and "no image files" in errors


@needs_shipped_model
def test_number_reads_several_digits(capsys, tmp_path):
    image = Image.new("RGB", (760, 300), "white")
    for left, digit in [(30, "7"), (270, "0"), (510, "4")]:
        draw_into(image, digit, (left, 40, left + 220, 260), stroke=0.1, ink=(20, 20, 60))
    path = tmp_path / "number.jpg"
    image.save(path, quality=85)
    status, lines, _ = run_cli(capsys, "predict", "--number", str(path), "--model", str(SHIPPED_MODEL))
    assert status == 0 and lines[0].startswith(f"{path}: 704  (7 ")
    status, lines, _ = run_cli(
        capsys, "predict", "--number", "--json", str(path), "--model", str(SHIPPED_MODEL)
    )
    record = json.loads(lines[0])
    assert record["number"] == "704" and record["digits"] == [7, 0, 4] and len(record["boxes"]) == 3


def test_installed_script_runs(tmp_path, untrained_model):
    script = Path(sys.executable).with_name("digit-recog")
    assert script.is_file(), f"{script} is missing: run `make install` (pip install -e .)"
    draw_digit("7").save(tmp_path / "seven.png")
    result = subprocess.run(
        [script, "predict", "--json", tmp_path, tmp_path / "missing.png", "--model", untrained_model],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    record = json.loads(result.stdout)
    assert record["path"] == str(tmp_path / "seven.png") and 0 <= record["digit"] <= 9
    assert np.isclose(sum(record["probabilities"]), 1, atol=1e-4)
    assert "missing.png: no such file or folder" in result.stderr


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    output = capsys.readouterr().out
    assert "predict" in output and "serve" in output


def test_tune_forwards_its_arguments_to_the_distributed_search(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["tune", "--help"])
    assert stopped.value.code == 0
    assert "--workers" in capsys.readouterr().out


def test_other_commands_reject_unknown_arguments(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["predict", "seven.png", "--workers", "2"])
    assert stopped.value.code == 2
    assert "unrecognized arguments: --workers 2" in capsys.readouterr().err


def test_version_names_the_package_and_the_shipped_model(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"digit-recog {__version__}; model ")
    assert artifacts.file_sha256(config.MODEL_PATH) in printed


def test_runs_lists_the_shipped_model_and_each_run(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "RUNS_DIR", tmp_path / "runs")
    assert cli.main(["runs"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[0] == "shipped"
    assert cli.main(["runs", "promote"]) == 2
    assert "needs the name of a run" in capsys.readouterr().err
    assert cli.main(["runs", "promote", "../x"]) == 2
    assert "cannot name a run folder" in capsys.readouterr().err


def test_a_lab_image_in_a_folder_does_not_stop_the_files_after_it(capsys, tmp_path, untrained_model):
    Image.new("LAB", (280, 280), (50, 0, 0)).save(tmp_path / "a_lab.tif")
    pixels = np.asarray(draw_digit("7"), dtype=np.float32)
    pixels[2, 2] = np.nan
    Image.fromarray(pixels, mode="F").save(tmp_path / "b_nan.tif")
    draw_digit("7").save(tmp_path / "c_seven.png")
    status, lines, errors = run_cli(capsys, "predict", str(tmp_path), "--model", str(untrained_model))
    assert status == 1
    assert [line.split(": ")[0] for line in lines] == [str(tmp_path / "c_seven.png")]
    assert "a_lab.tif: no digit found" in errors
    assert "b_nan.tif has pixels that are not finite numbers" in errors


@needs_shipped_model
def test_the_shipped_model_says_when_it_is_not_a_digit_or_unsure(capsys, tmp_path):
    """The thresholds beside the shipped model turn a letter into "not a digit" and keep a clean 7 a 7."""
    draw_digit("7").save(tmp_path / "a_seven.png")
    letter = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(letter).text(
        (140, 140), "K", fill=0, font=ImageFont.truetype(str(drawn.font_files()[0]), 200), anchor="mm"
    )
    letter.save(tmp_path / "b_letter.png")
    status, lines, _ = run_cli(capsys, "predict", str(tmp_path), "--json")
    assert status == 0
    records = {Path(record["path"]).name: record for record in map(json.loads, lines)}
    assert records["a_seven.png"]["digit"] == 7 and records["a_seven.png"]["verdict"] == "digit"
    assert records["a_seven.png"]["top"][0]["probability"] >= 0.97  # calibrated: a clean digit reads as sure
    assert records["b_letter.png"]["verdict"] in {"not a digit", "unsure"}
    _, text_lines, _ = run_cli(capsys, "predict", str(tmp_path / "b_letter.png"))
    assert "not a digit" in text_lines[0] or "(unsure)" in text_lines[0]


def test_runs_lists_unfinished_runs_and_restore_refuses_outside_the_repo(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "RUNS_DIR", tmp_path / "runs")
    (tmp_path / "runs" / "halfway" / "checkpoints").mkdir(parents=True)
    assert cli.main(["runs"]) == 0
    assert "unfinished (no training.json" in capsys.readouterr().out.splitlines()[-1]
    monkeypatch.setattr(config, "OUTPUT_ROOT", tmp_path)
    assert cli.main(["runs", "restore"]) == 2
    assert "nothing to restore" in capsys.readouterr().err


def test_special_files_are_named_not_read_and_the_rest_still_read(tmp_path, untrained_model):
    """A FIFO given by name hung predict forever; a device was read as if it were a picture."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    draw_digit("7").save(tmp_path / "seven.png")
    command = [sys.executable, "-m", "digit_recog.cli", "predict", fifo, "/dev/zero", tmp_path / "seven.png"]
    result = subprocess.run(
        [*command, "--model", untrained_model], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stdout.startswith(f"{tmp_path / 'seven.png'}: ")
    assert f"{fifo} is not a regular file (a FIFO); expected an image file" in result.stderr
    assert "/dev/zero is not a regular file (a device)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_folder_that_cannot_be_read_is_one_line_not_a_traceback(
    capsys, tmp_path, untrained_model, monkeypatch
):
    locked = tmp_path / "locked"
    locked.mkdir()
    draw_digit("7").save(tmp_path / "seven.png")
    listing = Path.iterdir

    def iterdir(path):
        if path == locked:  # as chmod 000 does for anyone but root
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    status, lines, errors = run_cli(
        capsys, "predict", locked, tmp_path / "seven.png", "--model", untrained_model
    )
    assert status == 1 and len(lines) == 1
    assert errors == f"digit-recog: error: {locked}: cannot be read (permission denied)\n"


def test_files_over_the_decoding_budget_are_one_line_each_and_the_rest_still_read(
    capsys, tmp_path, untrained_model
):
    from lab.hostile_pictures import ico_png_bomb, progressive_jpeg_bomb, tiff_tile_bomb

    (tmp_path / "a_scans.jpg").write_bytes(progressive_jpeg_bomb(extra_scans=1_000))
    (tmp_path / "b_tile.tif").write_bytes(tiff_tile_bomb())
    (tmp_path / "c_icon.png").write_bytes(ico_png_bomb())
    draw_digit("7").save(tmp_path / "d_seven.png")
    status, lines, errors = run_cli(capsys, "predict", tmp_path, "--model", untrained_model)
    assert status == 1
    assert [line.split(": ")[0] for line in lines] == [str(tmp_path / "d_seven.png")]
    error_lines = errors.splitlines()
    assert len(error_lines) == 3
    assert f"{tmp_path / 'a_scans.jpg'} is too costly to decode: a JPEG with more than 100 scans" in errors
    assert f"{tmp_path / 'b_tile.tif'} is too large to decode: it stores its 16x16 pixels in tiles" in errors
    assert f"{tmp_path / 'c_icon.png'} is not an image in a format read here" in errors


def test_a_number_of_too_many_digits_is_one_line_and_the_rest_still_read(capsys, tmp_path, untrained_model):
    from test_hostile_pictures import dot_grid

    dot_grid(16, 64, 12, shear=16).save(tmp_path / "a_dots.png")
    draw_digit("7").save(tmp_path / "b_seven.png")
    status, lines, errors = run_cli(capsys, "predict", "--number", tmp_path, "--model", untrained_model)
    assert status == 1
    assert [line.split(": ")[0] for line in lines] == [str(tmp_path / "b_seven.png")]
    assert "a_dots.png: 76 digits found; a number is read with at most 32 digits" in errors


def test_a_file_that_cannot_be_read_is_named_in_one_line(tmp_path, monkeypatch):
    """As chmod 000 does for anyone but root (who may read any file, so the refusal is simulated)."""
    import builtins

    from digit_recog.reading.decoding import ImageReadError, load_image

    locked = tmp_path / "locked.png"
    draw_digit("7").save(locked)
    open_file = builtins.open

    def refusing_open(file, *args, **kwargs):
        if str(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(file))
        return open_file(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    with pytest.raises(ImageReadError, match=rf"^{locked} cannot be read: permission denied$"):
        load_image(locked)
