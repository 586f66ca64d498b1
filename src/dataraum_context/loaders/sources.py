"""What the user names as sources: paths, globs, directories, URIs, or a `sources.yaml`; through
the Python API also a mapping of names to those or to in-memory frames (`config_sources`).

A `sources.yaml` lists sources by name:

    sources:
      - name: shop                      # reported by this name; the table name of one-table sources
        kind: postgres                  # a loader name (`dataraum loaders`); default: from the source
        source: postgresql://app@db.internal:5432/shop?schema=public
        options: {tables: [orders, customers]}
        credentials:
          password: ${SHOP_DB_PASSWORD}   # block style, or quoted: "${...}" (YAML reads { } as a mapping)

Credentials are only ever `${ENV_VAR}` references. They stay references in every spec, manifest
and result (and so in Hamilton's cache); a loader reads the variables when it connects, and
scrubs their values from any message it raises.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

from pydantic import ValidationError

from dataraum_context import plugins
from dataraum_context.errors import ConfigError, SourceError
from dataraum_context.models import Frozen
from dataraum_context.yaml_files import read_yaml

if TYPE_CHECKING:
    from dataraum_context.workspace import Workspace

# what `driver()`/`run()` accept: a path, paths, or names -> paths or frames (pandas, polars, ...)
UserSources = str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | Mapping[str, Any]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SOURCES_FILE_KEYS = ("name", "kind", "source", "options", "credentials")


class SourceSpec(Frozen):
    """One source as the user named it. `credentials` hold `${ENV_VAR}` references, never values."""

    name: str
    source: str
    kind: str | None = None
    options: dict[str, Any] = {}
    credentials: dict[str, Any] = {}


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+)://")  # two letters at least: C:// is a drive
_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+://)(?:[^/?#]*@)?([^?#]*).*", re.S)


def is_uri(source: str) -> bool:
    """`scheme://...` (a Windows drive letter is not a scheme)."""
    return _SCHEME.match(source) is not None


def uri_scheme(source: str) -> str:
    found = _SCHEME.match(source)
    return found[1].lower() if found else ""


def without_credentials(text: str) -> str:
    """A URI without its user, password and query (where passwords and tokens travel), read
    without parsing so that a malformed one is shown too; any other text as it is."""
    return _CREDENTIALS.sub(r"\1\2", text) if is_uri(text) else text


def check_no_password(uri: str) -> None:
    """A password written into a URI would reach shell history, logs and the context. A URI
    that cannot be parsed (a port out of range, a broken IPv6 host) is refused here too."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (parsed on access)
    except ValueError as exc:
        raise ConfigError(f"{without_credentials(uri)}: not a valid URI: {exc}") from None
    query_keys = {k.split("=", 1)[0].lower() for k in parts.query.split("&") if k}
    secrets = sorted(query_keys & _SECRET_PARAMETERS)
    if parts.password is not None or secrets:
        shown = urlunsplit((parts.scheme, _netloc(parts.username, parts.hostname, parts.port),
                            parts.path, "", ""))
        what = "a password" if parts.password is not None or secrets[0] in _PASSWORDS else f"a {secrets[0]!r} parameter"
        raise ConfigError(f"{shown}: {what} in the URI is not accepted (it would end up in shell "
                          "history and logs); set it in the environment (PGPASSWORD) or in a "
                          "sources.yaml's credentials as password: ${ENV_VAR} (an API's as params: "
                          "{token: ${ENV_VAR}})")


_PASSWORDS = frozenset({"password", "passwd", "pwd"})
# query parameters that carry credentials (an API's token, a signed URL's signature)
_SECRET_PARAMETERS = _PASSWORDS | {"token", "access_token", "refresh_token", "api_key", "apikey", "api-key",
                                   "key", "secret", "client_secret", "sig", "signature"}


def _netloc(user: str | None, host: str | None, port: int | None) -> str:
    netloc = host or ""
    if port:
        netloc = f"{netloc}:{port}"
    return f"{user}@{netloc}" if user else netloc


def config_sources(sources: UserSources, workspace: Workspace) -> list[str | SourceSpec]:
    """The sources given to `driver()`/`run()` as the staging step reads them: a path or a list
    of paths as text; a mapping as specs named by its keys, each frame materialized in the
    workspace first (`loaders.frame`). Anything else is a TypeError saying what is accepted."""
    # imported here: loaders.frame imports this module
    from dataraum_context.loaders.frame import ACCEPTED, frame_kind, materialize

    def refused(value: object, where: str = "sources") -> TypeError:
        kind = frame_kind(value)
        if kind is not None:
            return TypeError(f"{where}: a {kind} needs a name, its table's: pass sources={{'name': frame, ...}}")
        return TypeError(f"{where}: expected a path, a list of paths, or a mapping of names to paths or "
                         f"frames ({ACCEPTED}); got {type(value).__name__}")

    if isinstance(sources, (str, os.PathLike)):
        return [os.fspath(sources)]
    if isinstance(sources, Mapping):
        entries: list[str | SourceSpec] = []
        for name, value in sources.items():
            if not isinstance(name, str):
                raise TypeError(f"sources: names are strings; got {type(name).__name__} {name!r}")
            if isinstance(value, (str, os.PathLike)):
                path = os.fspath(value)
                entries.append(SourceSpec(name=name, source=path if is_uri(path) else os.path.abspath(path)))
            elif (kind := frame_kind(value)) is not None:
                entries.append(SourceSpec(name=name, source=materialize(name, value, kind, workspace), kind="frame"))
            else:
                raise refused(value, f"source {name!r}")
        return entries
    if frame_kind(sources) is None and isinstance(sources, Iterable):
        paths = list(sources)
        for path in paths:
            if not isinstance(path, (str, os.PathLike, SourceSpec)):  # specs: a run's sources handed on
                raise refused(path)
        return [path if isinstance(path, SourceSpec) else os.fspath(path) for path in paths]
    raise refused(sources)


def source_specs(sources: list[str | SourceSpec]) -> list[SourceSpec]:
    """Each source as a spec: a `sources.yaml` contributes its entries, a spec (named by a
    mapping given to `driver()`) is itself, anything else is one spec named as given."""
    specs: list[SourceSpec] = []
    for source in sources:
        if isinstance(source, SourceSpec):
            if is_uri(source.source):
                check_no_password(source.source)
            specs.append(source)
        elif source.lower().endswith((".yaml", ".yml")) and not is_uri(source):
            specs.extend(_read_sources_file(Path(source)))
        else:
            if is_uri(source):
                check_no_password(source)
            specs.append(SourceSpec(name=source, source=source))
    names = [s.name for s in specs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"source {duplicated[0]!r} is named twice")
    return specs


def _read_sources_file(path: Path) -> list[SourceSpec]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such sources file")
    data = read_yaml(path)
    entries = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: expected `sources:` with a list of sources "
                          f"(keys: {', '.join(SOURCES_FILE_KEYS)})")
    specs = []
    for i, entry in enumerate(entries, 1):
        where = f"{path}: source {i}" + (f" ({entry['name']!r})" if isinstance(entry, dict)
                                         and "name" in entry else "")
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping (keys: {', '.join(SOURCES_FILE_KEYS)})")
        unknown = sorted(set(entry) - set(SOURCES_FILE_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (valid keys: {', '.join(SOURCES_FILE_KEYS)})")
        for key in ("name", "source"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise ConfigError(f"{where}: `{key}` is required")
        _check_references(entry.get("credentials") or {}, where)
        kinds = plugins.loaders()
        if entry.get("kind") is not None and entry["kind"] not in kinds:
            raise ConfigError(f"{where}: unknown kind {entry['kind']!r} (loaders: {', '.join(sorted(kinds))})")
        source = entry["source"]
        if is_uri(source):
            check_no_password(source)
        else:
            source = os.path.abspath(path.parent / source)  # relative to the sources file
        try:
            specs.append(SourceSpec.model_validate({**entry, "source": source,
                                                    "options": entry.get("options") or {},
                                                    "credentials": entry.get("credentials") or {}}))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(f"{where}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    return specs


def _check_references(value: Any, where: str, key: str = "credentials") -> None:
    """Every credential is a `${ENV_VAR}` reference (inside a string such as `Bearer ${TOKEN}`)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_references(v, where, f"{key}.{k}")
    elif not (isinstance(value, str) and _ENV_REF.search(value)):
        raise ConfigError(f"{where}: {key} must reference an environment variable as ${{NAME}} "
                          "(a secret written into the file would be copied wherever the file goes)")


class Secrets:
    """Credential values read from the environment for one connection; `scrub` removes them,
    as written, percent-encoded or in base64, from any text that might leave the loader."""

    def __init__(self, references: dict[str, Any], source: str):
        self._values: list[str] = []
        self.resolved = self._resolve(references, source, "credentials")

    def _resolve(self, value: Any, source: str, key: str) -> Any:
        if isinstance(value, dict):
            return {k: self._resolve(v, source, f"{key}.{k}") for k, v in value.items()}

        def read(match: re.Match[str]) -> str:
            found = os.environ.get(match.group(1))
            if found is None:
                raise SourceError(f"{source}: {key} needs environment variable {match.group(1)}, "
                                  "which is not set")
            if found:
                self._values.append(found)
            return found

        return _ENV_REF.sub(read, value)

    def scrub(self, text: str) -> str:
        return self._forms.sub("***", text) if self._values else text

    @cached_property
    def _forms(self) -> re.Pattern[str]:
        """Every value in every form a URL, a header or a log may carry it (longest first)."""
        forms = {form for value in self._values for form in _encodings(value)}
        return re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True))), re.IGNORECASE)


def _encodings(value: str) -> list[str]:
    raw = value.encode()
    b64 = [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    return [value, quote(value, safe=""), quote(value), quote_plus(value), quote_plus(value, safe="/"),
            *b64, *(b.rstrip("=") for b in b64)]
