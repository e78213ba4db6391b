"""The Spark session of ``--engine spark``: built once per command, quiet, or one clear error.

pyspark comes from an extra (``pip install 'trialkit[spark]'``) and needs a Java runtime, which pip
cannot install; a user without either gets one line naming what to install (exit 2), never a
Py4J traceback. The session is local unless ``--spark-master`` says otherwise (``local[*]``: one
worker thread per core; CI uses ``local[2]``). Spark's own logging is cut to errors and its console
progress bars are off, so the command's output stays trialkit's.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from trialkit.errors import InputError

DEFAULT_MASTER = "local[*]"
INSTALL_EXTRA = "pip install 'trialkit[spark]'"
INSTALL_JAVA = "Java 17 or newer (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless), or set JAVA_HOME"
# The driver holds what the rules collect (failing records) and, in local mode, the executors too.
DRIVER_MEMORY = os.environ.get("TRIALKIT_SPARK_DRIVER_MEMORY", "2g")


def java_found() -> bool:
    """Whether a Java runtime is there for pyspark to start: JAVA_HOME's, else java on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        return (Path(home) / "bin" / "java").is_file()
    return shutil.which("java") is not None


def require_spark() -> None:
    """Raise the one InputError that says what is missing for the Spark engine, if anything is."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise InputError(f"--engine spark needs pyspark, which is not installed: {INSTALL_EXTRA}") from None
    if not java_found():
        raise InputError(f"--engine spark needs a Java runtime, none found (JAVA_HOME, PATH): install {INSTALL_JAVA}")


def spark_session(master: str = DEFAULT_MASTER):
    """The Spark session (an existing one of this process is reused), after :func:`require_spark`.
    A JVM that does not start is an InputError naming the master and Java."""
    require_spark()
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.master(master).appName("trialkit")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.memory", DRIVER_MEMORY)
               # Spark's own default: a shuffle (records by group, by subject share) is cut into 200
               # partitions that adaptive execution merges up to its advisory size (64 MB), so a
               # partition holds a bounded share of a large pool (at one partition per core, a pooled
               # LB of a million subjects was two pandas frames of 4.9 million records each) and a
               # small dataset still one partition
               .config("spark.sql.shuffle.partitions", "200")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               # pyspark 4 otherwise sends each DataFrame and Column call's Python call site to the JVM
               # (several Py4J round trips per call, for error messages trialkit does not show). CORE's
               # rules build thousands of expressions: on 21 of the CDISC pilot's datasets this halved
               # the round trips (527k -> 267k) and cut CORE on Spark from 100 s to 76 s
               .config("spark.python.sql.dataFrameDebugging.enabled", "false")
               # An out-of-memory error in the driver otherwise ends only the thread it struck: a
               # collect whose Arrow-serving thread died left the Python side waiting for ever (the
               # million-subject pool, 28 minutes idle). The JVM ends instead, and driver_alive says so.
               .config("spark.driver.extraJavaOptions", "-XX:+ExitOnOutOfMemoryError")
               # That out-of-memory was the text of a plan: adaptive execution renders the whole
               # physical plan after every stage, and the SQL status store keeps a thousand runs' plans.
               # A pooled dataset's plan (80 study files unioned, every check's expression) is large;
               # the text is only for the Spark UI, which is off.
               .config("spark.sql.maxPlanStringLength", "100000")
               .config("spark.sql.ui.retainedExecutions", "10")
               .config("spark.ui.retainedJobs", "100")
               .config("spark.ui.retainedStages", "100"))
    if master.startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
        # Python tasks (adam --engine spark) run in this interpreter, whose environment has trialkit;
        # Spark's default, the first python3 on PATH, may not (a cluster's executors need trialkit
        # installed). pyspark reads the variable when the context starts, not the spark.pyspark.python setting.
        os.environ["PYSPARK_PYTHON"] = sys.executable
    try:
        session = builder.getOrCreate()
    except (PySparkException, OSError) as exc:
        raise InputError(f"Spark did not start (--spark-master {master}): {str(exc).splitlines()[0]}; "
                         f"it needs {INSTALL_JAVA}") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def driver_alive() -> Iterator[None]:
    """A run on Spark whose driver JVM ends under it (an out-of-memory ends it, see spark_session)
    stops with one error naming the heap to raise, not a Py4J connection traceback."""
    from py4j.protocol import Py4JNetworkError

    try:
        yield
    except (Py4JNetworkError, ConnectionError) as exc:      # a call in flight, or the next one (connection refused)
        raise InputError(f"the Spark driver's JVM ended during the run ({str(exc).splitlines()[0]}); when its "
                         f"output above says java.lang.OutOfMemoryError, raise its heap: "
                         f"TRIALKIT_SPARK_DRIVER_MEMORY (now {DRIVER_MEMORY})") from None
