"""A strict YAML -> frozen dataclass loader: unknown keys rejected with the allowed ones (and the close one), wrong
types named, `--set a.b=value` applied before the build, and every error naming the file and line of the key, or
the --set that gave it. It knows nothing of the site config's sections: config.py gives it the dataclasses."""
import dataclasses
import difflib
import typing

import yaml

from .errors import ConfigError
from .science.spec_checks import InvalidSetting


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings remember the line of each key (for error messages)."""


class _Mapping(dict):
    """A YAML mapping that knows the line of each key, and which of its values a --set gave."""

    def __init__(self, *args, lines=None):
        super().__init__(*args)
        self.lines, self.overrides = lines or {}, {}


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key, line, first_line):
        super().__init__(f"{key}: given twice (first on line {first_line}); YAML would keep only the last")
        self.line = line


def _construct_mapping(loader, node):
    lines = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in lines:
            raise DuplicateKey(key, key_node.start_mark.line + 1, lines[key])
        lines[key] = key_node.start_mark.line + 1
    return _Mapping(loader.construct_mapping(node, deep=True), lines=lines)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

def apply_override(raw: dict, override: str):
    """Set one value; its mapping remembers the --set that gave it, so an error names that, not the file's line."""
    if "=" not in override:
        raise ConfigError(f"--set {override!r}: expected KEY.PATH=VALUE, e.g. md.zreps=[2,4]")
    key, value = override.split("=", 1)
    parts = key.strip().split(".")
    target = raw
    for part in parts[:-1]:
        if part not in target:  # a section the file does not have: the --set made it
            target[part] = _Mapping()
            if isinstance(target, _Mapping):
                target.overrides[part] = override.strip()
        target = target[part]
        if not isinstance(target, dict):
            raise ConfigError(f"--set {override!r}: {part!r} is not a section")
    try:
        target[parts[-1]] = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {override!r}: value is not valid YAML: {exc}") from None
    if isinstance(target, _Mapping):
        target.overrides[parts[-1]] = override.strip()


def key_location(path, mapping, key, prefix):
    override = getattr(mapping, "overrides", {}).get(key)
    if override:
        return f"--set {override}: {prefix}{key}"
    line = getattr(mapping, "lines", {}).get(key)
    return f"{path}:{line}: {prefix}{key}" if line else f"{path}: {prefix}{key}"


def check_keys(path, mapping, allowed, prefix):
    if not isinstance(mapping, dict):
        raise ConfigError(f"{path}: {prefix.rstrip('.') or 'top level'} must be a mapping")
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            raise ConfigError(
                f"{key_location(path, mapping, key, prefix)}: unknown key"
                + (f" (did you mean {prefix}{close[0]}?)" if close else "") + f"; allowed keys: {', '.join(allowed)}"
            )


_SCALARS = {  # type -> (what the message asks for, test); bool is not an int here, though Python says so
    bool: ("true or false", lambda v: isinstance(v, bool)),
    int: ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    str: ("a string", lambda v: isinstance(v, str)),
}


def coerce(path, mapping, key, prefix, value, annotation):
    place = key_location(path, mapping, key, prefix)
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return None if value is None else coerce(path, mapping, key, prefix, value, options[0])
    if annotation in (tuple, list) or origin in (tuple, list):
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{place}: expected a non-empty list, got {value!r}")
        return tuple(value)
    if annotation in _SCALARS:
        what, accepts = _SCALARS[annotation]
        if not accepts(value):
            hint = ""
            if annotation is str and isinstance(value, (int, float)) and not isinstance(value, bool):
                hint = (" (YAML reads unquoted 1:30:00 as the number 5400: quote it, \"01:30:00\")"
                        if key == "walltime" else " (quote it to make it a string)")
            raise ConfigError(f"{place}: expected {what}, got {value!r}{hint}")
        return float(value) if annotation is float else value
    return value


def build(cls, path, mapping, prefix):
    """Build dataclass `cls` from `mapping`, rejecting unknown keys and wrong types."""
    mapping = mapping if mapping is not None else {}
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    check_keys(path, mapping, names, prefix)
    values = {}
    for key, value in mapping.items():
        annotation = hints[key]
        if dataclasses.is_dataclass(annotation):
            values[key] = build(annotation, path, value, f"{prefix}{key}.")
        else:
            values[key] = coerce(path, mapping, key, prefix, value, annotation)
    return construct(cls, path, mapping, prefix, values)


def construct(cls, path, mapping, prefix, values):
    """cls(**values), its own checks' complaint turned into a ConfigError naming the file, line and key."""
    try:
        return cls(**values)
    except InvalidSetting as exc:
        raise ConfigError(f"{key_location(path, mapping, exc.key, prefix)}: {exc.message}") from None


def section_with_spec(cls, spec_cls, path, mapping, prefix, own_keys):
    """Sections whose keys are a science spec's fields plus their own (training, validation), flat in YAML."""
    mapping = mapping if mapping is not None else {}
    spec_keys = [f.name for f in dataclasses.fields(spec_cls)]
    check_keys(path, mapping, list(own_keys) + spec_keys, prefix)
    spec_part = _Mapping({k: v for k, v in mapping.items() if k in spec_keys}, lines=getattr(mapping, "lines", {}))
    spec_part.overrides = getattr(mapping, "overrides", {})
    spec = build(spec_cls, path, spec_part, prefix)
    hints = typing.get_type_hints(cls)
    own = {k: coerce(path, mapping, k, prefix, mapping[k], hints[k]) for k in own_keys if k in mapping}
    return construct(cls, path, mapping, prefix, {"spec": spec, **own})




def read_yaml(path, top_keys) -> dict:
    """The file's mapping, each mapping remembering its keys' lines; a syntax error names the line."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); a site config is a YAML "
                          "file in UTF-8") from None
    except DuplicateKey as exc:
        raise ConfigError(f"{path}:{exc.line}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{place}: YAML syntax error: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the site config must be a mapping of {', '.join(top_keys)}")
    return raw
