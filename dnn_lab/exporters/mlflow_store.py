"""The MLflow tracking store an export writes to: its URI checked first, and its errors.

MLflow is an optional extra, imported only inside these functions.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from dnn_lab.errors import DnnLabError

INSTALL_HINT = "pip install 'dnn-lab[mlflow]'"
# recent MLflow's default (3.17 here), spelled out so that older ones (./mlruns) agree
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # in the working directory; artifacts in ./mlruns
# MLflow's tracking URI schemes (mlflow.tracking._tracking_service.utils); "" is a plain path
URI_SCHEMES = ("", "file", "sqlite", "postgresql", "mysql", "mssql", "http", "https")
URI_SCHEMES += ("databricks", "databricks-uc", "uc")


def check_tracking_uri(uri: str) -> None:
    """Refuse a tracking URI MLflow cannot use before MLflow tries (an SQLite URI naming a
    folder makes it retry for minutes).

    Raises:
        DnnLabError: an unknown scheme, an SQLite database that is a folder or whose folder
            does not exist, or a plain path that is a file.
    """
    parsed = urllib.parse.urlparse(uri)
    scheme = parsed.scheme.split("+")[0].lower()
    if len(scheme) == 1:  # C:\\mlruns
        scheme = ""
    if scheme not in URI_SCHEMES:
        raise DnnLabError(
            f"--tracking-uri {uri!r}: MLflow has no {scheme!r} store; it takes "
            + ", ".join(f"{s}://" for s in URI_SCHEMES if s)
            + " or a folder"
        )
    if scheme == "sqlite":
        database = uri.split(":///", 1)[1] if ":///" in uri else ""
        if database and database != ":memory:":
            path = Path(database)
            if path.exists() and not path.is_file():
                raise DnnLabError(
                    f"--tracking-uri {uri!r}: {path} is not a file; "
                    "sqlite:///FILE names an SQLite database file"
                )
            if not path.parent.is_dir():
                raise DnnLabError(f"--tracking-uri {uri!r}: no folder {path.parent}")
    elif scheme in ("", "file"):
        path = Path(urllib.parse.unquote(parsed.path) if scheme else uri)
        if path.exists() and not path.is_dir():
            raise DnnLabError(
                f"--tracking-uri {uri!r}: {path} is a file, not a tracking store "
                f"(a folder); for an SQLite database write sqlite:///{path}"
            )


def store_errors() -> tuple[type[BaseException], ...]:
    """What a tracking store raises when it refuses (never a bug of ours to trace back)."""
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise DnnLabError(f"exporting to MLflow needs MLflow: {INSTALL_HINT}") from None
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # MLflow without its SQL stores
        return (MlflowException, OSError)
    return (MlflowException, OSError, SQLAlchemyError)


def client_for(uri: str):
    """MLflow's client for ``uri``, imported only when an export needs it."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def experiment_id_of(client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name)
    if found.lifecycle_stage == "deleted":
        raise DnnLabError(f"MLflow experiment {name!r} is deleted; restore it or pick another")
    return found.experiment_id


def quoted(value: str) -> str:
    """A value inside single quotes of an MLflow search filter."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
