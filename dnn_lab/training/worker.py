"""A warm trial worker: imports Keras once, then trains trial after trial.

A sweep of short trials spent most of each trial starting Python and importing the
framework. A worker pays that once. Each trial still starts from a fresh Keras state
(``clear_session``, the trial's own seed), writes its own run directory and its own
log, and so gives the history the same trial gives alone in a new process (the test
suite compares them digit for digit).

Protocol (``python -m dnn_lab.training.worker``): one request per line on stdin, one
answer per line on the original stdout, each the JSON of a record in
:mod:`dnn_lab.store.trial_messages` (``TrialRequest``, ``TrialAnswer``). End of input
ends the worker. While a trial trains, SIGTERM stops it
after the current batch (it records itself ``interrupted``) and the worker goes on;
between trials SIGTERM ends the worker. The worker dies with its driver.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

from dnn_lab.lifetime import end_with_parent
from dnn_lab.store import files
from dnn_lab.store.trial_messages import TrialAnswer, TrialRequest
from dnn_lab.training.warm_model import WarmModel, fresh_keras_state


@contextlib.contextmanager
def _output_to(path: Path):
    """Point file descriptors 1 and 2 (Python's and native code's output) at ``path``."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(1), os.dup(2)
    log = files.open_for_writing(path)  # a link at the log's name is replaced, not followed
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


# The last trial's compiled model, for a next trial of the same setting (another seed).
WARM_MODEL = WarmModel()


def run_trial(request: TrialRequest, received: float) -> TrialAnswer:
    """Train one trial as ``dnn-lab train`` would; the answer for the driver."""
    from rich.console import Console

    from dnn_lab.config.loading import load_config
    from dnn_lab.errors import EXIT_BUG, EXIT_TERMINATED, DnnLabError
    from dnn_lab.render.painter import CurvePainter
    from dnn_lab.render.terminal import print_training_result
    from dnn_lab.training.timing import Stopwatch
    from dnn_lab.training.trainer import train

    with _output_to(request.log):
        console = Console(highlight=False, width=120)
        try:
            fresh_keras_state()
            config = load_config(request.config, request.overrides, name=request.name)
            result = train(
                config,
                request.runs_dir,
                console=console,
                command=list(request.command),
                config_path=request.config,
                clock=Stopwatch(origin=received),
                painter=CurvePainter(background=False),  # matplotlib stays loaded here
                warm=WARM_MODEL,
            )
        except KeyboardInterrupt:
            console.print("stopped by SIGTERM before training began", markup=False)
            return TrialAnswer(exit_code=EXIT_TERMINATED)
        except DnnLabError as exc:
            console.print(f"error: {exc}", markup=False, soft_wrap=True)
            return TrialAnswer(exit_code=exc.exit_code)
        except BaseException:  # a bug: reported like `dnn-lab train` reports it
            import traceback

            traceback.print_exc()
            return TrialAnswer(exit_code=EXIT_BUG)
        print_training_result(console, result)
        if result.error is not None:
            import traceback

            traceback.print_exception(result.error)
        return TrialAnswer(exit_code=result.exit_code, status=result.status, run_dir=result.run_dir)


def serve(requests=None, answers_fd: int | None = None) -> int:
    """Answer requests until the input ends; the exit code of the worker."""
    requests = requests if requests is not None else sys.stdin
    answers = os.dup(1) if answers_fd is None else answers_fd
    stopping = {"idle": True}

    def on_term(signum, frame):
        if stopping["idle"]:
            os._exit(128 + signum)
        # A trial that is not yet fitting (the trainer's own handler takes over once it
        # is) stops here, and says so.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to act on
    for line in requests:
        if not line.strip():
            continue
        received = time.perf_counter()
        stopping["idle"] = False
        answer = run_trial(TrialRequest.from_json(json.loads(line)), received)
        stopping["idle"] = True
        try:
            os.write(answers, (json.dumps(answer.to_json()) + "\n").encode("utf-8"))
        except BrokenPipeError:  # the driver is gone; the run directory says what happened
            return 0
    return 0


def main() -> int:
    # SIGTERM when the driver dies: the trial stops after its batch, says `interrupted`
    end_with_parent(signal.SIGTERM)
    answers = os.dup(1)  # the driver's pipe; everything else printed goes to the log (fd 2)
    os.dup2(2, 1)
    return serve(answers_fd=answers)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # no framework teardown: nothing is left to save
