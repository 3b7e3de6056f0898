"""The LUT plan: every entry of a space's latency table, and the two networks that measure it.

An entry's latency is the measured drop when its block is removed from a network: it is timed in
context, not alone (AutoViT section 3.3.2). Three families:

- Layers (`transformer_layer`, `mbconv_layer`): the *context network* (the space's widest subnet
  at its least depth, with all transformer stages) with the entry's stage set to the entry's width, and
  `LAYER_COPIES` (2) extra layers of the entry's configuration; the variant lacks them, and the
  entry is the delta over the copies (a slope). Shapes never change, so the removal is exact and
  the layer is timed inside the whole network. Two copies double the delta while the rounds'
  jitter stays that of one pair of networks: that jitter, not the session, is what moved XXS's
  stage-4 layers between profiles (`benchmarks/load_offsets.py`). With one copy XXS's entries
  repeated within a median of 3.0% (p95 26%), with two within 1.8% (p95 12%), on one day
  (`benchmarks/lut_build.py`). The copies take a stage to its minimum depth plus two: inside XXS's
  transformer depths (2-5), one layer past its MBConv-2/3 depths (2-3) and tiny's (1-2), where a
  plan's networks may go (they are built without the space's bounds).
- Fixed parts (`stem`, `mbconv_transition`, `transformer_shell`, `head`): removing a stage's first
  block (or a MobileViT stage's convolutions, unfold and fold) would break the shapes of what
  follows. The documented stand-in is *truncation*: the reference is the skeleton network (every
  MBConv stage reduced to its transition block, every transformer stage to its shell without
  layers) cut right after the part, the variant is cut right before it, so nothing downstream
  needs reshaping. Their context is what precedes them.
- `overhead`: removing the stem leaves no network; its stand-in is a network doing one
  elementwise add on the input, whose own measured cost is this entry (the runtime's fixed cost of
  a call plus one pass over the input). It is subtracted from the stem and counted once per model.

The context network is the widest subnet since plan version 3 (versions 1 and 2: the smallest). A
block does not cost the same in every network, and at 64 px, where a whole network takes 0.2-0.4 ms,
the difference shows: quick profiles of tiny timed in the smallest subnet predicted 40 unseen
subnets 5.7-6.4% low on average, most on the widest (82-93% within ±10%), while the same profiles
timed in the widest predicted them at 97.5-100% within ±10% with a bias of -1.2 to +0.3% (and at
128 px, 92.5% within ±5% against 80%; docs/figures.md). Single layers' slopes in the two contexts
differ by -22% to +21% (`benchmarks/context_cost.py`), noisy at 10-30 µs; no single kind of entry
carries the error. AutoViT times blocks in the full network; the widest at its least depth is that
network as far as widths go, and keeps its layers the ones the entry adds. The fixed parts'
skeleton takes its widths from it too.

Every network is a `ProbeSpec`; the plan deduplicates them by content hash, so entries that share a
network (the context network is the variant of every minimum-width layer entry) export it once.

Since plan version 4 every entry also names a *working-set network*, measured for its memory alone:
the part on the narrowest prefix that can feed it, cut right after its stage and ended by a global
average pool (the head's ends in the head). A model's peak is its load plus the largest working set
of any one part, not a sum (`search/nas/memory.py`), and in the skeletons above a part's own working
set is masked by an earlier stage's whenever that one is larger: the stem and first MBConv stage at
a quarter of the input's side hold the peak of the widest skeleton, so a later part's difference
there is nothing or less, though it becomes the peak of a narrower subnet. On the narrowest prefix
the network's working memory is the larger of the part's and that prefix's, and the prefix's is at
most any subnet's own prefix's, so the largest over a subnet's parts is still its own. The pool keeps
a truncated network's output (a feature map of megabytes, copied out to the caller) out of it. The
overhead network is its own. A transformer layer's is measured at its stage's largest MLP ratio, one
network for the ratios of a width and a head count: a layer's attention (its heads) and its MLP (its
ratio) work one after the other, and the heads are what moves the largest of the two (XXS int8 at
256 px, in the first transformer stage: 4 heads instead of 2 raised a network's working memory by
0.68 MiB, a ratio of 2 instead of 1.5 by 0.10), so the plan measures half as many of them.

The context network is also the plan's *anchor*: it is timed in every measurement session, because
on a shared machine a whole session can run 5-15% faster or slower than another (seen on this
host: the same network at 8.9 to 10.5 ms in different sessions of one profile). Attribution scales
each session's deltas to the anchor's median speed over the profile, and validation measures the
anchor beside the subnets it checks.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from infra.errors import UserError
from orchestrator.plan.isolated import isolated
from orchestrator.plan.spec import CONTEXTS, METHODS, PLAN_VERSION, PLAN_VERSIONS, Entry, Plan, ProbeSpec
from search.nas.lut import entry_key
from search.space import SearchSpace
from search.space.config import ConfigError, MBConvStage, SubnetConfig, TransformerStage
from search.space.sampling import min_config


def context_config(space: SearchSpace, resolution: int, kind: str = "widest") -> SubnetConfig:
    """The context network: the space's smallest subnet with every transformer stage present (so each
    stage has a context), and with `kind` "widest" every stage and the stem at its widest width."""
    if kind not in CONTEXTS:
        raise ValueError(f"unknown context {kind!r}; one of {', '.join(CONTEXTS)}")
    smallest = min_config(space, resolution)
    extra = tuple(
        TransformerStage(min(st.width), (min(st.heads),) * min(st.depth), (float(min(st.mlp_ratio)),) * min(st.depth))
        for st in space.transformer[len(smallest.transformer) :]
    )
    context = dataclasses.replace(smallest, transformer=smallest.transformer + extra)
    if kind == "smallest":
        return context
    return dataclasses.replace(
        context, stem=max(space.stem.width),
        mbconv=tuple(dataclasses.replace(s, width=max(st.width)) for s, st in zip(context.mbconv, space.mbconv)),
        transformer=tuple(dataclasses.replace(s, width=max(st.width)) for s, st in zip(context.transformer, space.transformer)),
    )


def _truncate(config: SubnetConfig, stages: int) -> SubnetConfig:
    """Keep the stem and the first `stages` stages, so one network has one spec however it was cut."""
    n_mb = len(config.mbconv)
    return dataclasses.replace(config, mbconv=config.mbconv[:stages], transformer=config.transformer[: max(0, stages - n_mb)])


def _skeleton(config: SubnetConfig) -> SubnetConfig:
    return dataclasses.replace(
        config,
        mbconv=tuple(dataclasses.replace(s, depth=1) for s in config.mbconv),
        transformer=tuple(TransformerStage(s.width, (), ()) for s in config.transformer),
    )


def _with_stage_width(config: SubnetConfig, index: int, width: int) -> SubnetConfig:
    """Set the width of stage `index` (0..2 MBConv, 3.. transformer; -1 is the stem)."""
    if index < 0:
        return dataclasses.replace(config, stem=width)
    n_mb = len(config.mbconv)
    if index < n_mb:
        mb = list(config.mbconv)
        mb[index] = dataclasses.replace(mb[index], width=width)
        return dataclasses.replace(config, mbconv=tuple(mb))
    tr = list(config.transformer)
    tr[index - n_mb] = dataclasses.replace(tr[index - n_mb], width=width)
    return dataclasses.replace(config, transformer=tuple(tr))


class _Builder:
    def __init__(self, space: SearchSpace, resolution: int, copies: int, context: str, working_sets: bool) -> None:
        self.space, self.resolution, self.copies = space, resolution, copies
        self.context = context_config(space, resolution, context)
        self.skeleton = _skeleton(self.context)
        self.narrowest = _skeleton(context_config(space, resolution, "smallest")) if working_sets else None
        self.probes: dict[str, ProbeSpec] = {}
        self.entries: list[Entry] = []

    def probe(self, config: SubnetConfig | None, head: bool = True, pool: bool | None = None) -> str:
        if config is None:
            spec = ProbeSpec("overhead", self.resolution)
        else:
            spec = ProbeSpec("net", self.resolution, config.to_json(), head, pool=pool)
        self.probes.setdefault(spec.id, spec)
        return spec.id

    def add(self, kind: str, stage: str | None, params: dict[str, Any], reference: str, variant: str | None, copies: int = 1) -> None:
        self.entries.append(Entry(entry_key(kind, stage, **params), kind, stage, params, reference, variant, copies, self.working(kind, stage, params)))

    def working(self, kind: str, stage: str | None, params: dict[str, Any]) -> str | None:
        """The entry's working-set network (see the module's docstring); None before plan version 4."""
        if self.narrowest is None:
            return None
        if kind == "overhead":
            return self.probe(None)
        names = [s.name for s in (*self.space.mbconv, *self.space.transformer)]
        index = -1 if stage is None else names.index(stage)
        config = self.narrowest
        if kind == "head":
            n = len(self.space.mbconv) + min(n for n in self.space.num_transformer_stages if params["width"] in self.space.transformer[n - 1].width)
            return self.probe(_truncate(_with_stage_width(config, n - 1, params["width"]), n), head=True)
        if "in_width" in params:
            config = _with_stage_width(config, index - 1, params["in_width"])
        config = _with_stage_width(config, index, params["width"])
        if kind == "mbconv_layer":
            mb = list(config.mbconv)
            mb[index] = MBConvStage(params["width"], 2, float(params["expansion"]))
            config = dataclasses.replace(config, mbconv=tuple(mb))
        elif kind == "transformer_layer":
            tr = list(config.transformer)
            ratio = max(self.space.transformer[index - len(config.mbconv)].mlp_ratio)
            tr[index - len(config.mbconv)] = TransformerStage(params["width"], (params["heads"],), (float(ratio),))
            config = dataclasses.replace(config, transformer=tuple(tr))
        return self.probe(_truncate(config, index + 1), head=False, pool=True)

    def prefix(self, widths: dict[int, int], stages: int) -> str:
        """The skeleton cut after `stages` stages, with some stage widths overridden."""
        config = self.skeleton
        for index, width in widths.items():
            config = _with_stage_width(config, index, width)
        return self.probe(_truncate(config, stages), head=False)

    def fixed_parts(self) -> None:
        space = self.space
        overhead = self.probe(None)
        self.add("overhead", None, {}, overhead, None)
        for w in space.stem.width:
            self.add("stem", None, {"width": w}, self.prefix({-1: w}, 0), overhead)
        previous = (-1, space.stem.width)
        stages = [(s, "mbconv_transition") for s in space.mbconv] + [(s, "transformer_shell") for s in space.transformer]
        for index, (stage, kind) in enumerate(stages):
            prev_index, prev_widths = previous
            for w_in in prev_widths:
                for w in stage.width:
                    if kind == "transformer_shell" and index > len(space.mbconv) and space.increasing_transformer_width and w_in >= w:
                        continue
                    with_part = self.prefix({prev_index: w_in, index: w}, index + 1)
                    without = self.prefix({prev_index: w_in}, index)
                    self.add(kind, stage.name, {"in_width": w_in, "width": w}, with_part, without)
            previous = (index, stage.width)
        n_mb = len(space.mbconv)
        for w in space.head_widths:
            n = min(n for n in space.num_transformer_stages if w in space.transformer[n - 1].width)
            config = _with_stage_width(self.skeleton, n_mb + n - 1, w)
            config = _truncate(config, n_mb + n)
            with_head = self.probe(config, head=True)
            without = self.probe(config, head=False)
            self.add("head", None, {"width": w}, with_head, without)

    def mbconv_layers(self) -> None:
        for j, stage in enumerate(self.space.mbconv):
            depth = min(stage.depth)
            for w in stage.width:
                for e in stage.expansion:
                    base = _with_stage_width(self.context, j, w)
                    mb = list(base.mbconv)
                    mb[j] = MBConvStage(w, depth, float(e))
                    without = dataclasses.replace(base, mbconv=tuple(mb))
                    mb[j] = MBConvStage(w, depth + self.copies, float(e))
                    with_layers = dataclasses.replace(base, mbconv=tuple(mb))
                    self.add(
                        "mbconv_layer", stage.name, {"width": w, "expansion": float(e)},
                        self.probe(with_layers), self.probe(without), self.copies,
                    )

    def transformer_layers(self) -> None:
        n_mb = len(self.space.mbconv)
        for i, stage in enumerate(self.space.transformer):
            for w in stage.width:
                base = _with_stage_width(self.context, n_mb + i, w)
                without = self.probe(base)
                for h in stage.heads:
                    for r in stage.mlp_ratio:
                        tr = list(base.transformer)
                        tr[i] = TransformerStage(w, tr[i].heads + (h,) * self.copies, tr[i].mlp_ratio + (float(r),) * self.copies)
                        with_layers = self.probe(dataclasses.replace(base, transformer=tuple(tr)))
                        params = {"width": w, "heads": h, "mlp_ratio": float(r)}
                        self.add("transformer_layer", stage.name, params, with_layers, without, self.copies)


def build_plan(space: SearchSpace, resolution: int | None = None, method: str = "removal", version: int = PLAN_VERSION) -> Plan:
    """The plan LUTs are measured with now; an earlier `version` rebuilds the plan of a LUT measured
    with it (`spec.lut_plan_version`), with the ids that LUT recorded."""
    if version not in PLAN_VERSIONS:
        raise UserError(f"unknown plan version {version}; one of {', '.join(map(str, PLAN_VERSIONS))}")
    layer_copies, context, working_sets = PLAN_VERSIONS[version]
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    resolution = resolution if resolution is not None else space.default_resolution
    if resolution not in space.resolutions:
        raise ConfigError(f"resolution {resolution} is not in space {space.name!r}; choices: {', '.join(map(str, space.resolutions))}")
    builder = _Builder(space, resolution, layer_copies, context, working_sets)
    builder.fixed_parts()
    builder.mbconv_layers()
    builder.transformer_layers()
    anchor = builder.probe(builder.context)
    plan = Plan(
        space, resolution, builder.context, tuple(builder.entries), builder.probes, anchor, layer_copies=layer_copies, context_kind=context,
        working_sets=working_sets,
    )
    return isolated(plan) if method == "isolated" else plan
