"""The ``digit-recog`` command: read digits in your own images, or start the drawing web app.

    digit-recog predict photo.jpg scans/ [--top 3] [--json] [--number] [--model PATH]
    digit-recog serve [--host 127.0.0.1] [--port 8000] [--model PATH] [--allowed-host NAME ...]
    digit-recog tune --workers 2 [search options of python -m digit_recog.experiments.distributed]

Each subcommand is a ``_add_<name>_command`` function that declares its arguments and a ``_<name>``
function that runs it and returns the exit status; add a new one by writing both and registering
the first in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from digit_recog import config
from digit_recog.reading.image import IMAGE_EXTENSIONS, PreprocessError

if TYPE_CHECKING:  # reading.predict imports Keras, which takes seconds: only when a command predicts
    from digit_recog.reading.predict import DigitReading, NumberReading

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


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
    subcommands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subcommands)
    return parser


def _add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        default=config.MODEL_PATH,
        help="trained .keras model (default: %(default)s)",
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
    _add_model_argument(parser)
    parser.set_defaults(run=_predict)


def _predict(arguments: argparse.Namespace) -> int:
    from digit_recog.reading.predict import read_digit, read_number  # imports Keras: only when needed

    paths, failures = _expand_image_paths(arguments.images)
    model = _load_model_or_none(arguments.model) if paths else None
    if paths and model is None:
        return EXIT_USAGE
    for path in paths:
        try:
            if arguments.number:
                reading = read_number(model, path)
                line = _number_line(path, reading, arguments.json)
            else:
                reading = read_digit(model, path)
                line = _digit_line(path, reading, arguments.top, arguments.json)
        except PreprocessError as error:
            _complain(str(error))
            failures += 1
            continue
        print(line, flush=True)
    return EXIT_SOME_FAILED if failures else EXIT_OK


def _expand_image_paths(arguments: list[Path]) -> tuple[list[Path], int]:
    """Files as given, folders replaced by their image files (sorted); counts the missing ones."""
    paths, failures = [], 0
    for argument in arguments:
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
    return paths, failures


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _load_model_or_none(path: Path):
    from digit_recog.reading.predict import ModelFileError, load_trained_model  # imports Keras

    try:
        return load_trained_model(path)
    except (FileNotFoundError, ModelFileError) as error:
        _complain(str(error))
        return None


def _digit_line(path: Path, reading: DigitReading, top: int, as_json: bool) -> str:
    ranked = reading.top(max(top, 1))
    if as_json:
        return json.dumps(
            {
                "path": str(path),
                "digit": reading.digit,
                "probabilities": _rounded(reading.probabilities),
                "top": [{"digit": digit, "probability": round(p, 6)} for digit, p in ranked],
            }
        )
    listed = ", ".join(f"{digit} {p:.1%}" for digit, p in ranked)
    return f"{path}: {reading.digit}  ({listed})"


def _number_line(path: Path, reading: NumberReading, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "path": str(path),
                "number": reading.text,
                "digits": [digit.digit for digit in reading.digits],
                "confidences": [round(float(digit.probabilities.max()), 6) for digit in reading.digits],
                "probabilities": [_rounded(digit.probabilities) for digit in reading.digits],
                "boxes": [list(box) for box in reading.boxes],
            }
        )
    listed = ", ".join(f"{digit.digit} {digit.probabilities.max():.1%}" for digit in reading.digits)
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
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name clients may reach the app by, besides localhost, 127.0.0.1 and --host "
        "(repeatable; '*' allows any). Other Host headers get 400, which stops DNS rebinding.",
    )
    _add_model_argument(parser)
    parser.set_defaults(run=_serve)


def _serve(arguments: argparse.Namespace) -> int:
    model = _load_model_or_none(arguments.model)  # checked before the server says it is serving
    if model is None:
        return EXIT_USAGE

    # uvicorn takes a second to import: only when serving
    import uvicorn

    from digit_recog.web.app import LOCAL_HOSTS, SERVER_SETTINGS, create_app

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
    app = create_app(model_path=arguments.model, model=model, allowed_hosts=allowed_hosts)
    print(f"digit-recog: serving on http://{arguments.host}:{arguments.port}", flush=True)
    uvicorn.run(app, host=arguments.host, port=arguments.port, **SERVER_SETTINGS)
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


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_predict_command,
    _add_serve_command,
    _add_tune_command,
]


if __name__ == "__main__":
    sys.exit(main())
