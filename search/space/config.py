"""The subnet config: an immutable, validated, hashable description of one network in a space.

Transformer stages carry per-layer heads and MLP ratios (AutoFormer-style), so a stage's depth
is the length of those tuples. Configs serialise to one canonical JSON form; its hash is the
config's identity in caches, LUT plans and search state.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from infra.errors import UserError
from search.space import SearchSpace


class ConfigError(UserError):
    """A config that does not belong to its space; the message names stage, field and allowed values."""


@dataclass(frozen=True)
class MBConvStage:
    width: int
    depth: int
    expansion: float


@dataclass(frozen=True)
class TransformerStage:
    width: int
    heads: tuple[int, ...]
    mlp_ratio: tuple[float, ...]

    @property
    def depth(self) -> int:
        return len(self.heads)


@dataclass(frozen=True)
class SubnetConfig:
    space: str
    resolution: int
    stem: int
    mbconv: tuple[MBConvStage, ...]
    transformer: tuple[TransformerStage, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "resolution": self.resolution,
            "stem": {"width": self.stem},
            "mbconv": [{"width": s.width, "depth": s.depth, "expansion": compact_number(s.expansion)} for s in self.mbconv],
            "transformer": [
                {
                    "width": s.width,
                    "depth": s.depth,
                    "heads": list(s.heads),
                    "mlp_ratio": [compact_number(r) for r in s.mlp_ratio],
                }
                for s in self.transformer
            ],
        }

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces, integral floats written as ints."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @property
    def last_width(self) -> int:
        return self.transformer[-1].width

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubnetConfig:
        try:
            transformer = []
            for s in data["transformer"]:
                heads, ratios = tuple(s["heads"]), tuple(float(r) for r in s["mlp_ratio"])
                if len(heads) != len(ratios) or ("depth" in s and s["depth"] != len(heads)):
                    raise ConfigError("a transformer stage's depth, heads and mlp_ratio lists must have one length")
                transformer.append(TransformerStage(int(s["width"]), heads, ratios))
            return cls(
                space=data["space"],
                resolution=int(data["resolution"]),
                stem=int(data["stem"]["width"]),
                mbconv=tuple(MBConvStage(int(s["width"]), int(s["depth"]), float(s["expansion"])) for s in data["mbconv"]),
                transformer=tuple(transformer),
            )
        except ConfigError:
            raise
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"config document is missing or mistypes the field {exc}") from exc
        except (ValueError, OverflowError) as exc:  # int("x"), float(""), int(inf): a file's value that is no number
            raise ConfigError(f"config document holds a value that is not a usable number ({exc})") from exc

    @classmethod
    def from_json(cls, text: str) -> SubnetConfig:
        return cls.from_dict(json.loads(text))


def compact_number(x: float) -> float | int:
    """2.0 -> 2, 1.5 -> 1.5: one spelling of a choice value in JSON, keys and messages."""
    return int(x) if float(x).is_integer() else x


def _allowed(stage: str, field: str, value: Any, allowed: tuple) -> None:
    """Refuse a value outside `allowed`, shown as written when it is no number (a config file's
    heads are taken as they stand, so a null or a string reaches here)."""
    if value not in allowed:
        values = ", ".join(str(compact_number(a)) for a in allowed)
        shown = compact_number(value) if isinstance(value, (int, float)) else repr(value)
        raise ConfigError(f"{stage}: {field}={shown} is not allowed; allowed values: {values}")


def validate(config: SubnetConfig, space: SearchSpace) -> SubnetConfig:
    """Return the config unchanged if it lies in the space, else raise a ConfigError saying where."""
    if config.space != space.name:
        raise ConfigError(f"config is for space {config.space!r}, not {space.name!r}")
    _allowed("input", "resolution", config.resolution, space.resolutions)
    _allowed("Conv", "width", config.stem, space.stem.width)
    if len(config.mbconv) != len(space.mbconv):
        raise ConfigError(f"config has {len(config.mbconv)} MBConv stages; the space has {len(space.mbconv)}")
    for cs, ss in zip(config.mbconv, space.mbconv):
        _allowed(ss.name, "width", cs.width, ss.width)
        _allowed(ss.name, "depth", cs.depth, ss.depth)
        _allowed(ss.name, "expansion", cs.expansion, ss.expansion)
    _allowed("network", "number of transformer stages", len(config.transformer), space.num_transformer_stages)
    for cs, ss in zip(config.transformer, space.transformer):
        _allowed(ss.name, "width", cs.width, ss.width)
        _allowed(ss.name, "depth", cs.depth, ss.depth)
        for i, (h, r) in enumerate(zip(cs.heads, cs.mlp_ratio)):
            _allowed(f"{ss.name} layer {i + 1}", "heads", h, ss.heads)
            _allowed(f"{ss.name} layer {i + 1}", "mlp_ratio", r, ss.mlp_ratio)
    if space.increasing_transformer_width:
        widths = [s.width for s in config.transformer]
        for i, (a, b) in enumerate(zip(widths, widths[1:])):
            if a >= b:
                raise ConfigError(
                    f"{space.transformer[i + 1].name}: width={b} must be larger than {space.transformer[i].name}'s "
                    f"width {a} (the space requires widths that increase stage by stage)"
                )
    return config


def as_config(config: SubnetConfig | dict[str, Any], argument: str = "config") -> SubnetConfig:
    """A config as the public API takes it: a `SubnetConfig`, or its dict as `to_dict()` and `best.json` write it."""
    if isinstance(config, SubnetConfig):
        return config
    if isinstance(config, dict):
        return SubnetConfig.from_dict(config)
    raise UserError(f"{argument} must be a SubnetConfig or its dict (SubnetConfig.to_dict()), not {type(config).__name__} {config!r:.60}")
