"""The ``digit-recog`` command: read digits in your own images, or start the drawing web app.

    digit-recog predict photo.jpg scans/ [--top 3] [--json] [--number] [--progress] [--model PATH]
    digit-recog serve [--host 127.0.0.1] [--port 8000] [--workers 1] [--model PATH] [--allowed-host NAME ...]
    digit-recog export --format onnx|litert|saved_model|all|web [--out PATH] [--force]
    digit-recog tune --workers 2 [search options of python -m digit_recog.experiments.distributed]
    digit-recog runs [list | promote NAME | restore]
    digit-recog --version

Each subcommand is a ``_add_<name>_command`` function that declares its arguments and a ``_<name>``
function that runs it and returns the exit status; add a new one by writing both and registering
the first in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from digit_recog import config
from digit_recog.artifacts import require
from digit_recog.modeling.export import EXPORT_FORMATS  # no Keras import: that waits until a model is loaded
from digit_recog.reading.ahead import DecodedAhead
from digit_recog.reading.budget import DecodingPool
from digit_recog.reading.decoding import IMAGE_EXTENSIONS, PreprocessError
from digit_recog.reading.verdict import NOT_A_DIGIT, UNSURE, load_thresholds, verdict

if TYPE_CHECKING:  # reading.predict imports Keras, which takes seconds: only when a command predicts
    from digit_recog.reading.predict import NumberReading

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
EXPORT_CHOICES = [*EXPORT_FORMATS, "all", "web"]  # every model format, all of them at once, and the page
PREDICT_BATCH_SIZE = 256  # images decoded, then read by the model, at a time
# Fewer images than this are decoded by one worker process: more take longer to start than they save.
PARALLEL_DECODING_FROM = 200


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line), run the subcommand and return its exit status."""
    parser = build_parser()
    arguments, forwarded = parser.parse_known_args(argv)
    if forwarded and not getattr(arguments, "forwards_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(forwarded)}")
    arguments.forwarded = forwarded
    # Keep TensorFlow's C++ info and warning logs off stderr (a few start-up lines escape regardless).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return arguments.run(arguments)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per command in ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="digit-recog", description="Recognise handwritten digits with the trained MNIST CNN."
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the package's version and the shipped model's, and exit",
    )
    subcommands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subcommands)
    return parser


class _VersionAction(argparse.Action):
    """``--version``: the package's version and the shipped model's version and SHA-256."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from digit_recog import __version__
        from digit_recog.model_card import model_version

        if config.MODEL_PATH.is_file():
            try:
                shipped = model_version(config.MODEL_PATH)
            except (ValueError, OSError) as error:
                _complain(str(error))
                parser.exit(EXIT_USAGE)
            model = f"model {shipped['version']} (sha256 {shipped['sha256']})"
        else:
            model = f"no model at {config.MODEL_PATH}"
        print(f"digit-recog {__version__}; {model}")
        parser.exit()


def _add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        default=config.MODEL_PATH,
        help="trained .keras model, or an exported .onnx/.tflite one (default: %(default)s)",
    )
    parser.add_argument(
        "--runtime",
        choices=["auto", "keras", "onnx", "litert"],
        default="auto",
        help="what reads the images: auto (default) uses the exported ONNX model with onnxruntime when "
        "`digit-recog export` wrote it from this model, else Keras",
    )


# predict


def _add_predict_command(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "predict",
        help="read the digit in each image",
        description="Read the digit in each image file, or in every image file of each folder given. "
        "Any picture works: a photo or scan of dark ink on paper, or a light digit on a dark background.",
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files or folders")
    parser.add_argument("--top", type=int, default=3, help="how many probable digits to list (default: 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per image")
    parser.add_argument(
        "--number", action="store_true", help="read several digits side by side as one number"
    )
    parser.add_argument(
        "--progress", action="store_true", help="show a progress bar on stderr (default: only on a terminal)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes that decode the images of large folders (default: the number of CPUs, "
        "%(default)s); each may spend a few seconds of CPU and some hundred MB on one picture",
    )
    _add_model_argument(parser)
    parser.set_defaults(run=_predict)


def _predict(arguments: argparse.Namespace) -> int:
    paths, failures = _expand_image_paths(arguments.images)
    if not paths:
        return EXIT_SOME_FAILED if failures else EXIT_OK
    # Decoding workers start before Keras is imported (and never from this process: by a forkserver), and
    # decode the first pictures while the model loads.
    with (
        _decoding_pool(len(paths), arguments.jobs) as pool,
        contextlib.nullcontext() if arguments.number else DecodedAhead(pool, paths) as decoded,
    ):
        model = _load_model_or_none(arguments.model, arguments.runtime)
        if model is None:
            return EXIT_USAGE
        arguments.thresholds = _thresholds_or_none(arguments.model)
        if arguments.thresholds is False:
            return EXIT_USAGE
        with _progress_bar(len(paths), arguments.progress) as progress:
            lines = (
                _read_numbers(model, paths, arguments, pool)
                if arguments.number
                else _read_digits(model, paths, arguments, decoded)
            )
            for line, error in lines:
                if error is not None:
                    progress.write(f"digit-recog: error: {error}", file=sys.stderr)
                    failures += 1
                else:
                    print(line, flush=True)
                progress.update(1)
    return EXIT_SOME_FAILED if failures else EXIT_OK


def _read_digits(
    model, paths: list[Path], arguments: argparse.Namespace, decoded: DecodedAhead
) -> Iterator[tuple]:
    """``(line, error)`` for each image, in order, from its decoded input: read by the model in batches."""
    import numpy as np

    outcomes = iter(decoded)
    for start in range(0, len(paths), PREDICT_BATCH_SIZE):
        batch = [(path, next(outcomes)) for path in paths[start : start + PREDICT_BATCH_SIZE]]
        images = [outcome for _, outcome in batch if not isinstance(outcome, PreprocessError)]
        probabilities = iter(_predict_batch(model, np.stack(images)) if images else [])
        for path, outcome in batch:
            if isinstance(outcome, PreprocessError):
                yield None, str(outcome)
            else:
                line = _digit_line(
                    path, next(probabilities), arguments.top, arguments.json, arguments.thresholds
                )
                yield line, None


def _predict_batch(model, images):
    """Probabilities (N, 10) of preprocessed 28x28 images; Keras is imported only when it reads them."""
    from digit_recog.reading.runtimes import ExportedModel

    if isinstance(model, ExportedModel):
        return model.predict(images[..., None].astype("float32"))
    from digit_recog.reading.predict import predict_digits

    return predict_digits(model, images)


def _read_numbers(
    model, paths: list[Path], arguments: argparse.Namespace, pool: DecodingPool
) -> Iterator[tuple]:
    from digit_recog.reading.predict import read_number  # imports Keras: only when needed

    for path in paths:
        try:
            reading = read_number(
                model, os.path.abspath(path), str(path), thresholds=arguments.thresholds, pool=pool
            )
            yield _number_line(path, reading, arguments.json), None
        except PreprocessError as error:
            yield None, str(error)


def _decoding_pool(count: int, jobs: int) -> DecodingPool:
    """Budgeted worker processes to decode ``count`` images: ``jobs`` of them for a large folder, else one."""
    return DecodingPool(max(1, jobs) if count >= PARALLEL_DECODING_FROM else 1)


def _progress_bar(total: int, forced: bool):
    """A progress bar on stderr when it is a terminal or ``forced``; otherwise one that draws nothing."""
    from tqdm import tqdm

    shown = forced or sys.stderr.isatty()
    return tqdm(total=total, file=sys.stderr, unit="image", disable=not shown, dynamic_ncols=True)


def _expand_image_paths(arguments: list[Path]) -> tuple[list[Path], int]:
    """Files as given, folders replaced by their image files (sorted); counts the missing and unreadable
    ones. Special files given by name (a FIFO, a device) are passed on: the decoding gate refuses them."""
    paths, failures = [], 0
    for argument in arguments:
        try:
            if argument.is_dir():
                images = sorted(p for p in argument.iterdir() if p.is_file() and _is_image_name(p))
                if not images:
                    _complain(f"{argument}: folder has no image files ({', '.join(IMAGE_EXTENSIONS)})")
                    failures += 1
                paths.extend(images)
            elif argument.exists():
                paths.append(argument)
            else:
                _complain(f"{argument}: no such file or folder")
                failures += 1
        except PermissionError:
            _complain(f"{argument}: cannot be read (permission denied)")
            failures += 1
    return paths, failures


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _thresholds_or_none(model_path: Path):
    """The verdict thresholds saved beside the model (None when it has none), or False after complaining
    that the file is damaged."""
    try:
        return load_thresholds(model_path)
    except ValueError as error:
        _complain(str(error))
        return False


def _load_model_or_none(path: Path, runtime: str = "auto"):
    """The exported model to read with (see ``runtimes.exported_reader``), else the Keras model; None after
    complaining when neither loads. Keras is imported only when it is the one that reads."""
    from digit_recog.modeling.export import ExportError
    from digit_recog.reading.runtimes import exported_reader

    try:
        exported = exported_reader(path, runtime)
        if exported is not None:
            return exported
        from digit_recog.reading.predict import ModelFileError, load_trained_model  # imports Keras

        try:
            return load_trained_model(path)
        except ModelFileError as error:
            raise ExportError(str(error)) from error
    except (FileNotFoundError, ExportError) as error:
        _complain(str(error))
        return None


def _digit_line(path: Path, probabilities, top: int, as_json: bool, thresholds=None) -> str:
    ranked = [
        (int(digit), float(probabilities[digit])) for digit in probabilities.argsort()[::-1][: max(top, 1)]
    ]
    digit = int(probabilities.argmax())
    judged = verdict(probabilities, thresholds)
    if as_json:
        return json.dumps(
            {
                "path": str(path),
                "digit": digit,
                "verdict": judged,
                "probabilities": _rounded(probabilities),
                "top": [{"digit": digit, "probability": round(p, 6)} for digit, p in ranked],
            }
        )
    listed = ", ".join(f"{digit} {p:.1%}" for digit, p in ranked)
    answer = {UNSURE: f"{digit}? (unsure)", NOT_A_DIGIT: "not a digit"}.get(judged, str(digit))
    return f"{path}: {answer}  ({listed})"


def _number_line(path: Path, reading: NumberReading, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "path": str(path),
                "number": reading.text,
                "digits": [digit.digit for digit in reading.digits],
                "verdicts": [digit.verdict for digit in reading.digits],
                "confidences": [round(float(digit.probabilities.max()), 6) for digit in reading.digits],
                "probabilities": [_rounded(digit.probabilities) for digit in reading.digits],
                "boxes": [list(box) for box in reading.boxes],
            }
        )
    listed = ", ".join(
        f"{digit.digit} {digit.probabilities.max():.1%}"
        + ("" if digit.verdict == "digit" else f" {digit.verdict}")
        for digit in reading.digits
    )
    return f"{path}: {reading.text}  ({listed})"


def _rounded(probabilities) -> list[float]:
    return [round(float(p), 6) for p in probabilities]


def _complain(message: str) -> None:
    print(f"digit-recog: error: {message}", file=sys.stderr, flush=True)


# serve


def _add_serve_command(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "serve",
        help="start the drawing web app",
        description="Serve the web app where you draw or upload a digit and see what the model reads.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes, each with its own model (default: 1)"
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name clients may reach the app by, besides localhost, 127.0.0.1 and --host "
        "(repeatable; '*' allows any). Other Host headers get 400, which stops DNS rebinding.",
    )
    _add_model_argument(parser)
    parser.set_defaults(run=_serve)


def _model_loads(path: Path, runtime: str) -> bool:
    """Whether the model at ``path`` and its thresholds load; False after complaining."""
    return _load_model_or_none(path, runtime) is not None and _thresholds_or_none(path) is not False


def _model_loads_elsewhere(path: Path, runtime: str) -> bool:
    """:func:`_model_loads` in a fresh process: the model's memory goes with it (the supervisor of
    ``serve --workers N`` keeps none; each worker loads its own)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_model_loads, path, runtime).result()


def _serve(arguments: argparse.Namespace) -> int:
    if arguments.workers < 1:
        _complain(f"--workers must be at least 1, got {arguments.workers}")
        return EXIT_USAGE
    if not _version_readable(arguments.model):
        return EXIT_USAGE
    # The model is checked before "serving on"; one process serves with the model it checked.
    if arguments.workers > 1:
        if not _model_loads_elsewhere(arguments.model, arguments.runtime):
            return EXIT_USAGE
    else:
        model = _load_model_or_none(arguments.model, arguments.runtime)
        if model is None or _thresholds_or_none(arguments.model) is False:
            return EXIT_USAGE

    # uvicorn takes a second to import: only when serving
    import uvicorn

    from digit_recog.web.server import LOCAL_HOSTS, server_settings

    allowed_hosts = [*LOCAL_HOSTS, *arguments.allowed_host]
    if arguments.host not in ("0.0.0.0", "::"):  # a wildcard address is no name a client uses
        allowed_hosts.append(arguments.host)
    elif not arguments.allowed_host:
        print(
            f"digit-recog: note: listening on {arguments.host}, but answering only requests addressed to "
            f"{' or '.join(LOCAL_HOSTS)}; add --allowed-host NAME for each name or address clients use",
            file=sys.stderr,
            flush=True,
        )
    print(f"digit-recog: serving on http://{arguments.host}:{arguments.port}", flush=True)
    if arguments.workers == 1:
        from digit_recog.web.app import create_app  # imports Keras: not in a supervisor

        app = create_app(model_path=arguments.model, model=model, allowed_hosts=allowed_hosts)
        uvicorn.run(app, host=arguments.host, port=arguments.port, **server_settings())
        return EXIT_OK
    # Each worker process builds its own app (and loads its own model) from these variables.
    os.environ["DIGIT_RECOG_MODEL"] = str(Path(arguments.model).resolve())
    os.environ["DIGIT_RECOG_RUNTIME"] = arguments.runtime
    os.environ["DIGIT_RECOG_ALLOWED_HOSTS"] = ",".join(allowed_hosts)
    uvicorn.run(
        "digit_recog.web.app:app_from_environment",
        factory=True,
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        **server_settings(),  # the protocol and its limits are pickled into each worker
    )
    return EXIT_OK


def _version_readable(model_path: Path) -> bool:
    """Whether the model's version (what ``/health`` reports) can be read; complains when not, so that
    ``serve`` stops before it says it is serving."""
    from digit_recog.model_card import model_version

    try:
        model_version(model_path)
    except (ValueError, OSError) as error:
        _complain(str(error))
        return False
    return True


# export


def _add_export_command(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "export",
        help="export the model to ONNX, LiteRT, a SavedModel, or a web page that needs no server",
        description="Export the trained model with Keras's own exporter. `all` writes ONNX, LiteRT and the "
        "SavedModel under models/exported/; `web` writes a static folder (the drawing page, the ONNX model "
        "and onnxruntime-web) that reads digits in the browser.",
    )
    parser.add_argument("--format", required=True, choices=EXPORT_CHOICES, help="what to write")
    parser.add_argument("--out", type=Path, help="file or folder to write (default: under models/exported/)")
    parser.add_argument("--force", action="store_true", help="replace the output if it exists")
    parser.add_argument(
        "--model", type=Path, default=config.MODEL_PATH, help="trained .keras model (default: %(default)s)"
    )
    parser.set_defaults(run=_export)


def _export(arguments: argparse.Namespace) -> int:
    from digit_recog.modeling.export import ExportError, export_model_file

    try:
        require(arguments.model, "03_train.ipynb")
        if arguments.format == "web":
            from digit_recog.web.site import export_site

            written = [export_site(arguments.model, arguments.out or config.WEB_SITE_DIR, arguments.force)]
        elif arguments.format == "all":
            if arguments.out is not None:
                raise ExportError("--out names one file or folder: give a single --format with it")
            written = [
                export_model_file(arguments.model, name, None, arguments.force) for name in EXPORT_FORMATS
            ]
        else:
            written = [export_model_file(arguments.model, arguments.format, arguments.out, arguments.force)]
    except (FileNotFoundError, ExportError, OSError) as error:
        _complain(str(error))
        return EXIT_USAGE
    for path in written:
        print(f"digit-recog: wrote {path}", flush=True)
    return EXIT_OK


# tune


def _add_tune_command(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "tune",
        help="hyperparameter search with a KerasTuner chief and N workers (--workers 2)",
        description="Forwards its arguments to `python -m digit_recog.experiments.distributed`; "
        "`digit-recog tune --help` lists them.",
        add_help=False,  # --help goes to the search's own parser
    )
    parser.set_defaults(run=_tune, forwards_arguments=True)


def _tune(arguments: argparse.Namespace) -> int:
    from digit_recog.experiments import distributed  # imports KerasTuner: only when needed

    return distributed.main(arguments.forwarded)


# runs


def _add_runs_command(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "runs",
        help="list the training runs beside the shipped model, promote one, or restore the shipped model",
        description="Without arguments, a table of runs: parameters, validation accuracy and loss, time; "
        "then the unfinished runs, and a warning when the shipped model is not the one its version records. "
        "`promote NAME` makes run NAME the shipped model (its model, thresholds, version, reports and "
        "figures replace the shipped ones together) after checking it: an unfinished run, or a model or "
        "thresholds file that does not load, is refused and the shipped model stays as it was. `restore` "
        "puts the committed shipped model, thresholds, reports and figures back from git; `restore previous` "
        "puts back what the last promote replaced.",
    )
    parser.add_argument("action", nargs="?", choices=["list", "promote", "restore"], default="list")
    parser.add_argument("name", nargs="?", help="the run to promote; `previous` after restore")
    parser.set_defaults(run=_runs)


def _runs(arguments: argparse.Namespace) -> int:
    if arguments.action == "promote":
        return _promote_run(arguments.name)
    if arguments.action == "restore":
        return _restore_shipped(arguments.name)
    return _list_runs()


def _promote_run(name: str | None) -> int:
    from digit_recog import runs  # imports pandas: only for this command

    if not name:
        _complain("runs promote needs the name of a run: digit-recog runs promote NAME")
        return EXIT_USAGE
    try:
        written = runs.promote(name)
    except (OSError, ValueError) as error:
        _complain(str(error))
        return EXIT_USAGE
    print(
        f"promoted {name}: wrote {len(written)} files (the replaced ones are kept: `digit-recog runs restore "
        "previous`); now run `make run`'s later notebooks (04, 05, 08) if the run lacks their reports, then "
        "`python -m digit_recog.model_card`"
    )
    return EXIT_OK


def _restore_shipped(which: str | None = None) -> int:
    from digit_recog import runs

    if which not in (None, "previous"):
        _complain(f"runs restore takes nothing or `previous`, not {which!r}")
        return EXIT_USAGE
    try:
        if which == "previous":
            listed = ", ".join(runs.restore_previous())
            print(f"restored what the last promote replaced: {listed}")
            return EXIT_OK
        changed = runs.restore()
    except (RuntimeError, OSError) as error:
        _complain(str(error))
        return EXIT_USAGE
    listed = ", ".join(changed) if changed else "nothing had changed"
    print(f"restored the committed shipped model, reports and figures from git: {listed}")
    return EXIT_OK


def _list_runs() -> int:
    from digit_recog import runs

    try:
        problem = runs.shipped_model_problem()
    except (ValueError, OSError) as error:
        problem = str(error)
    if problem:
        print(f"warning: {problem}")
    table = runs.runs_table()
    if table.empty:
        print("no runs yet: train one with notebooks/03_train.ipynb (e.g. -p run_name quick -p epochs 1)")
    else:
        print(
            table.drop(columns=["machine", "finished_at"]).to_string(
                index=False, float_format=lambda x: f"{x:.4g}"
            )
        )
    unfinished = runs.unfinished_run_names()
    if unfinished:
        names = ", ".join(unfinished)
        print(f"unfinished (no training.json; a new training of the same name replaces it): {names}")
    for name, problem in runs.damaged_runs().items():
        print(f"damaged: {name}: {problem}")
    return EXIT_OK


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_predict_command,
    _add_serve_command,
    _add_export_command,
    _add_tune_command,
    _add_runs_command,
]


if __name__ == "__main__":
    sys.exit(main())
