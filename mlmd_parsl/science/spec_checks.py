"""How a spec refuses a value: `InvalidSetting(key, why)`. Every spec (the science's and the site config's
sections) checks its own values when it is made, so a spec built in Python is checked as one read from YAML;
the config loader adds the file, line and section to the key."""
import re


class InvalidSetting(ValueError):
    """A value a spec does not allow: `key` within the spec, and why."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message


def require(ok, key, message):
    if not ok:
        raise InvalidSetting(key, message)


def one_of(key, value, allowed):
    require(value in allowed, key, f"{value!r}; allowed: {', '.join(allowed)}")


def choice(spec, key, kind):
    """Check that spec.key is one of the Choice `kind`'s words and store it as the member (frozen specs too)."""
    value = getattr(spec, key)
    one_of(key, value, kind.words())
    object.__setattr__(spec, key, kind(value))


def is_count(value, minimum=1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def counts(key, values):
    """A non-empty list of integers >= 1 (ranks, replicas)."""
    require(values and all(is_count(v) for v in values), key, f"{list(values)}: every entry must be an integer >= 1")


def at_least_one(spec, keys):
    for key in keys:
        require(getattr(spec, key) >= 1, key, f"{getattr(spec, key)} must be >= 1")


def device(key, value):
    require(value in ("cpu", "cuda") or re.fullmatch(r"cuda:\d+", value), key, f"{value!r}; allowed: cpu, cuda, cuda:N")


def multiple_of(key, value, every, why):
    require(value % every == 0, key, f"{value} must be a multiple of {every} ({why})")
