"""The Spark session: settings, the JVM's log, and the Python that Spark's workers run.

custseg's only Python code on Spark's executors is the validation of each Arrow
batch (:func:`custseg.validate.validate` in ``mapInPandas``, see
:mod:`.checks`); everything else is Spark SQL and MLlib on the JVM. So that
those Python workers find custseg, whatever ``python3`` is on ``PATH``:

- in local mode the workers run the interpreter that runs custseg
  (``sys.executable``), unless the user chose one (``PYSPARK_PYTHON``, or
  ``spark.pyspark.python`` in Spark's configuration);
- on every master the custseg package the driver runs is shipped to the
  executors as a zip (``SparkContext.addPyFile``), ahead of any other copy on
  their path, so they run the same code; on a cluster their Python (``python3``
  on the workers' ``PATH``, or ``PYSPARK_PYTHON``/``spark.pyspark.python``) needs
  only pandas, NumPy and pyarrow, as any pandas code on Spark does.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from ...errors import ParameterError

__all__ = ["SparkSettings", "get_session", "jvm_log_path", "spark_session_class",
           "worker_python", "ship_custseg"]


class SparkSettings:
    """How a Spark session for custseg is configured.

    Parameters
    ----------
    master : str, optional
        Spark master URL; ``local[*]`` when None.
    driver_memory : str
        ``spark.driver.memory`` (only applies when this process starts the JVM);
        the environment variable ``CUSTSEG_SPARK_DRIVER_MEMORY`` overrides it.
    shuffle_partitions : int, optional
        ``spark.sql.shuffle.partitions``; 4 in local mode, Spark's default otherwise.
    """

    def __init__(self, master: str | None = None, driver_memory: str = "4g",
                 shuffle_partitions: int | None = None):
        self.master = master
        self.driver_memory = os.environ.get("CUSTSEG_SPARK_DRIVER_MEMORY", driver_memory)
        self.shuffle_partitions = shuffle_partitions

    def conf(self) -> dict[str, str]:
        master = self.master or "local[*]"
        conf = {
            "spark.master": master,
            "spark.app.name": "custseg",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.memory": self.driver_memory,
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.sql.session.timeZone": "UTC",
        }
        parts = self.shuffle_partitions or (4 if master.startswith("local") else None)
        if parts:
            conf["spark.sql.shuffle.partitions"] = str(parts)
        return conf


def spark_session_class():
    """``pyspark.sql.SparkSession``, or a one-line ParameterError naming the install command."""
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise ParameterError("the Spark engine needs pyspark, which is not installed",
                             fix='pip install "custseg[spark]" (and Java 17), or use '
                                 "--engine local") from None
    return SparkSession


def jvm_log_path() -> Path:
    """Where the JVM that :func:`get_session` starts writes its own output (log, warnings).

    ``CUSTSEG_SPARK_LOG`` if set, else ``custseg-spark-UID.log`` in the temporary
    directory; rewritten at each JVM start.
    """
    chosen = os.environ.get("CUSTSEG_SPARK_LOG")
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(chosen) if chosen else Path(tempfile.gettempdir()) / f"custseg-spark-{uid}.log"


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Point file descriptor 2 at ``path`` while the block runs.

    A process started meanwhile (the JVM, and the Python workers it starts later)
    keeps writing there; this process's stderr is restored afterwards.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "wb") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def get_session(master: str | None = None, *, settings: SparkSettings | None = None):
    """The active Spark session, or a new quiet one (no UI, log level FATAL).

    An already running session is reused as it is (its master and its workers'
    Python win). A new JVM writes its start-up messages and logs to
    :func:`jvm_log_path`, not to the terminal; a new session's Python workers
    run :func:`worker_python`.
    """
    SparkSession = spark_session_class()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ParameterError("the Spark engine needs Java 17 or newer, and no java was found",
                             fix="install it (e.g. apt-get install openjdk-17-jre-headless) "
                                 "or set JAVA_HOME, or use --engine local")
    builder = SparkSession.builder
    for key, value in (settings or SparkSettings(master)).conf().items():
        builder = builder.config(key, value)
    log = jvm_log_path()
    try:
        with _stderr_to(log):
            spark = builder.getOrCreate()
    except Exception as exc:  # JVM start-up problems: one line, with the fix
        raise ParameterError(f"cannot start Spark ({str(exc).splitlines()[0][:200]})",
                             fix=f"check --master and the Java installation (the JVM's "
                                 f"messages are in {log}), or use --engine local") from None
    # FATAL: failed tasks log their Java stack trace at ERROR; custseg reports the
    # errors it knows in one line (read.input_error) and re-raises the others
    spark.sparkContext.setLogLevel("FATAL")
    context = spark.sparkContext
    context.pythonExec = worker_python(context.master, context.getConf().get(
        "spark.pyspark.python", None), context.pythonExec)
    return spark


def worker_python(master: str, configured: str | None, current: str) -> str:
    """The Python that a new session's workers run.

    pyspark, started from a Python process (not by ``spark-submit``), runs
    ``$PYSPARK_PYTHON`` or else ``python3`` from ``PATH``, which outside an
    activated virtual environment (a ``pipx`` install, a console script called by
    its path) is a Python without custseg. Here: ``PYSPARK_PYTHON`` if set
    (``current`` is then already it), else ``spark.pyspark.python`` from Spark's
    configuration (``configured``; Spark documents it for the driver and the
    executors), else in local mode this interpreter, else ``current`` (the
    executors' ``python3``).
    """
    if os.environ.get("PYSPARK_PYTHON"):
        return current
    if configured:
        return configured
    if master.startswith("local"):
        return sys.executable
    return current


_SHIPPED: set[str] = set()  # the Spark applications that have custseg's zip


def ship_custseg(spark) -> None:
    """Make the custseg package that runs here importable on ``spark``'s executors.

    Once per Spark application: zips the package (its files, without bytecode
    caches; about 0.3 MB, a tenth of a second) and adds it with ``addPyFile``,
    which puts it first on the executors' Python path. Nothing is shipped when
    custseg does not run from a folder (e.g. from a zip itself).
    """
    context = spark.sparkContext
    app = context.applicationId
    if app in _SHIPPED:
        return
    package = Path(__file__).resolve().parents[2]  # .../custseg
    if not (package / "__init__.py").is_file():
        return
    folder = Path(tempfile.mkdtemp(prefix="custseg-spark-py-"))
    atexit.register(shutil.rmtree, folder, True)  # kept while the executors may fetch it
    target = folder / "custseg.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, Path("custseg") / path.relative_to(package))
    context.addPyFile(str(target))
    _SHIPPED.add(app)
