"""The policy engine: a real OPA server, started here or reached at OPA_URL, asked ONE question.

Fail closed: an engine that cannot be started or reached, errors, times out, or answers with an
undefined or malformed decision raises EngineUnavailable; the gate never reads that as a pass.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO
from urllib.parse import urlparse

import requests

DECISION_PACKAGE = "plant.gate"
DECISION_RULE = "result"
DEFAULT_TIMEOUT_S = float(os.environ.get("PLANTCTL_OPA_TIMEOUT", "60"))
START_TIMEOUT_S = 20.0
# The OPA child's Go garbage collector: collect at +50% heap growth instead of +100%. The parsed
# input (tens of MB of JSON at 50k devices) and its intermediate copies are garbage soon after
# parsing; collecting sooner keeps the server's peak well below the default's, at no cost in
# time measured (bench/run.py). GOGC or GOMEMLIMIT set by the caller are left as they are.
OPA_GOGC = "50"


class EngineUnavailable(Exception):
    """No trustworthy answer from the policy engine."""


class BundleRefused(EngineUnavailable):
    """The policy bundle failed signature verification (tampered, unsigned or another key)."""


# What OPA says when a bundle fails verification (opa run --bundle --verification-key).
_REFUSALS = (
    "digest mismatch",
    "missing .signatures.json",
    "signature",
    "verif",
    "jwt",
    "not included",
    "unexpected file",
)


def opa_binary() -> str:
    found = shutil.which("opa")
    if found:
        return found
    local = Path(__file__).resolve().parents[2] / ".tools" / "bin" / "opa"
    if local.exists():
        return str(local)
    raise EngineUnavailable("the opa binary is not installed; run `make setup`")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpaServer:
    """`opa run --server` on a free loopback port with the given policies, for one check."""

    def __init__(
        self,
        policies: Path,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        bundle: Path | None = None,
        verification_key: Path | None = None,
    ):
        self.policies = Path(policies)
        self.timeout = timeout
        # A bundle (opa build) replaces the policies folder; with a verification key OPA checks
        # its signature and every file's digest before it loads anything.
        self.bundle = Path(bundle) if bundle is not None else None
        self.verification_key = Path(verification_key) if verification_key is not None else None
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self.peak_rss_kib: int | None = None  # the server's high-water mark, read at stop
        self._log: IO[bytes] | None = None

    def __enter__(self) -> OpaEndpoint:
        if self.verification_key is not None and self.bundle is None:
            raise BundleRefused("a verification key is configured but no policy bundle to verify")
        if self.bundle is not None:
            if not self.bundle.is_file():
                raise EngineUnavailable(f"policy bundle {self.bundle} does not exist")
            if self.verification_key is not None and not self.verification_key.is_file():
                raise BundleRefused(f"verification key {self.verification_key} does not exist")
            load = ["--bundle"]
            if self.verification_key is not None:
                load += ["--verification-key", str(self.verification_key)]
            load.append(str(self.bundle))
        elif not self.policies.is_dir():
            raise EngineUnavailable(f"policies folder {self.policies} does not exist")
        else:
            load = ["--ignore", "*_test.rego", "--ignore", ".*", str(self.policies)]
        self.port = _free_port()
        self._log = tempfile.TemporaryFile()
        env = dict(os.environ)
        if "GOGC" not in env and "GOMEMLIMIT" not in env:
            env["GOGC"] = OPA_GOGC
        self.process = subprocess.Popen(
            [
                opa_binary(),
                "run",
                "--server",
                "--addr",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "error",
                *load,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        endpoint = OpaEndpoint("127.0.0.1", self.port, self.timeout)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                output = self._output()
                if self.verification_key is not None and any(
                    word in output.lower() for word in _REFUSALS
                ):
                    raise BundleRefused(
                        f"policy bundle {self.bundle} refused: its signature or contents do not "
                        f"verify with {self.verification_key} ({_last_error(output)}); "
                        "rebuild it with `plantctl bundle build` and the right signing key"
                    )
                raise EngineUnavailable(f"opa server exited at start: {output}")
            if endpoint.healthy():
                endpoint.warm_up()
                return endpoint
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise EngineUnavailable(f"opa server not healthy after {START_TIMEOUT_S:.0f} s")
            time.sleep(0.05)

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()[-2000:]

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.peak_rss_kib = _peak_rss_kib(self.process.pid)
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def _last_error(output: str) -> str:
    lines = [line for line in output.splitlines() if "error" in line.lower()]
    return (lines[-1] if lines else output.splitlines()[-1] if output else "no output").strip()


def _peak_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class OpaEndpoint:
    """A reachable OPA server and the one decision query."""

    def __init__(self, host: str, port: int, timeout: float = DEFAULT_TIMEOUT_S, ssl=False):
        self.host, self.port, self.timeout = host, port, timeout
        self.ssl = ssl
        self.root_url = f"{'https' if ssl else 'http'}://{host.strip()}:{port}/v1"
        # The warm-up uses a plain session; the decision goes through opa_client (below).
        self.session = requests.Session()
        self._client = None

    @property
    def client(self):
        """An opa_client OpaClient for the same server, made when first asked for."""
        if self._client is None:
            from opa_client import OpaClient

            self._client = OpaClient(
                host=self.host, port=self.port, timeout=self.timeout, retries=0, ssl=self.ssl
            )
        return self._client

    @classmethod
    def from_url(cls, url: str, timeout: float = DEFAULT_TIMEOUT_S) -> OpaEndpoint:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise EngineUnavailable(f"OPA_URL {url!r} is not an http(s) URL")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return cls(parsed.hostname, port, timeout, ssl=parsed.scheme == "https")

    def healthy(self) -> bool:
        try:
            return requests.get(f"http://{self.host}:{self.port}/health", timeout=1).ok
        except requests.RequestException:
            return False

    def warm_up(self) -> None:
        """Asks the decision once with an empty input, so the server has prepared the query
        before the real one (measured: the first query at 50k devices took seconds longer than
        the next). The answer is ignored: only decide() answers, and it fails closed itself."""
        url = f"{self.root_url}/data/{DECISION_PACKAGE.replace('.', '/')}/{DECISION_RULE}"
        with contextlib.suppress(requests.RequestException):
            self.session.post(
                url,
                data=b'{"input":{}}',
                headers={"Content-Type": "application/json"},
                timeout=min(self.timeout, 5.0),
            )

    def decide(self, document: dict) -> dict:
        """The decision for `document` (the facts): one query with opa-python-client."""
        from opa_client.errors import ConnectionsError, QueryExecuteError

        try:
            answer = self.client.query_rule(document, DECISION_PACKAGE, DECISION_RULE)
        except requests.Timeout:
            raise EngineUnavailable(
                f"the policy engine did not answer within {self.timeout:.0f} s"
            ) from None
        except (requests.RequestException, ConnectionsError, QueryExecuteError) as exc:
            raise EngineUnavailable(
                f"the policy engine at {self.host}:{self.port} failed: {_short(exc)}"
            ) from None
        except (TypeError, ValueError) as exc:  # facts not JSON, or an answer that is not
            raise EngineUnavailable(f"no JSON exchange with the policy engine: {exc}") from None
        return validate_decision(answer)

    def query(self, text: str, document: dict) -> dict:
        """The bindings of one ad-hoc query (POST /v1/query) over `document`: the scoped
        pull-request evaluation (gate/scoped.py) asks its questions this way. Fails closed like
        decide(): no answer, an error or no bindings raise EngineUnavailable."""
        try:
            answer = self.session.post(
                f"{self.root_url}/query",
                json={"query": text, "input": document},
                timeout=self.timeout,
            )
            answer.raise_for_status()
            body = answer.json()
        except requests.Timeout:
            raise EngineUnavailable(
                f"the policy engine did not answer within {self.timeout:.0f} s"
            ) from None
        except requests.RequestException as exc:
            raise EngineUnavailable(
                f"the policy engine at {self.host}:{self.port} failed: {_short(exc)}"
            ) from None
        except (TypeError, ValueError) as exc:
            raise EngineUnavailable(f"no JSON exchange with the policy engine: {exc}") from None
        results = body.get("result") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) != 1:
            raise EngineUnavailable("the policy engine's answer to the scoped query is undefined")
        bindings = results[0]  # the query's variables and their values
        if not isinstance(bindings, dict):
            raise EngineUnavailable("the policy engine's answer to the scoped query is malformed")
        return bindings


def validate_decision(answer: object) -> dict:
    """Only a well-formed decision counts; anything else is no answer (fail closed)."""
    if not isinstance(answer, dict) or "result" not in answer:
        raise EngineUnavailable(
            "the policy engine's decision is undefined (is data.plant.gate.result "
            "defined by the policies?)"
        )
    decision = answer["result"]
    if not isinstance(decision, dict) or not isinstance(decision.get("violations"), list):
        raise EngineUnavailable("the policy engine's decision has no list of violations")
    for v in decision["violations"] + list(decision.get("warnings") or []):
        if not isinstance(v, dict) or not {"rule", "msg", "kind", "id"} <= set(v):
            raise EngineUnavailable(f"malformed violation in the decision: {v!r}")
    return decision


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "..."
