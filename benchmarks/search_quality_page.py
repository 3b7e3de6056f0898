"""docs/search_quality.md from docs/search_quality.json alone (JSON in, markdown out), so the page
and the figures anyone can recompute always agree. It opens with a verdict written from the goals,
names the LUT and checkpoint beside every figure, and marks every goal met, missed or not yet
measured; the latest run replaces the last (history is what git is for)."""

from __future__ import annotations

from typing import Any


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _tau(t: dict[str, float] | None) -> str:
    return "-" if t is None else f"{t['value']:.2f} [{t['low']:.2f}, {t['high']:.2f}]"


def _mark(met: bool | None) -> str:
    return "not measured yet" if met is None else "**met**" if met else "**missed**"


def verdict(doc: dict[str, Any]) -> str:
    """The goals as a short list, one line each: its figure and met, missed, not judged yet (inputs
    not all in) or not measured yet; then what the task's pilot found."""
    goals = doc["goals"]
    met = sum(g["met"] is True for g in goals)
    judged = sum(g["met"] is not None for g in goals)
    head = (
        f"**Verdict** (the {doc['headline']} supernet, checkpoint {_sha(doc)}; LUT {doc['lut']}): {met} of {len(goals)} goals met"
        + (f", {judged - met} missed" if judged > met else "") + (f", {len(goals) - judged} not judged or not measured yet" if judged < len(goals) else "") + "."
    )
    lines = [head, "", *(f"- {g['goal']}: {g['text']}" for g in goals)]
    return "\n".join(lines + ([f"\n{_pilot_sentence(doc['pilot'])}"] if doc.get("pilot") else []))


def _pilot_sentence(p: dict[str, Any]) -> str:
    g = p["goals"]
    epochs = max(e for s in p["subnets"].values() for e in s["epochs"])
    head = "-" if p.get("headroom_points") is None else f"{p['headroom_points']:.1f} points"
    sd = "-" if p.get("seed_sd_points_max") is None else f"{p['seed_sd_points_max']:.2f} points"
    return (
        f"The task's pilot ({p['name']}: the ends trained alone, {epochs} epochs): headroom {head} (goal ≥ {g['headroom_points']:g}: "
        f"{_mark(None if p.get('headroom_points') is None else p['headroom_points'] >= g['headroom_points'])}), one seed's SD up to {sd} "
        f"(goal ≤ {g['seed_sd_points']:g}: {_mark(None if p.get('seed_sd_points_max') is None else p['seed_sd_points_max'] <= g['seed_sd_points'])}), "
        f"every curve flat over its last 20%: {_mark(p['all_converged'])}."
    )


def _pilot(doc: dict[str, Any]) -> list[str]:
    p = doc.get("pilot")
    if not p:
        return []
    out = [
        "## The task, piloted",
        "",
        f"Before a reference is built on a task, `benchmarks/task_pilot.py` trains the space's ends alone, two seeds each, with the "
        f"held-out curve kept ({p['date']}, {p['machine']}; every pilot in [task_pilot.json](task_pilot.json)). {_pilot_sentence(p)}",
        "",
        "| subnet | predicted ms | params (M) | epochs | test, per seed | seed SD (points) | curve flat |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, s in p["subnets"].items():
        sd = "-" if s["seed_sd_points"] is None else f"{s['seed_sd_points']:.2f}"
        flat = ", ".join({True: "yes", False: "no", None: "too short"}[c] for c in s["converged"])
        out.append(
            f"| {name} | {s['predicted_ms']:.3f} | {s['params'] / 1e6:.3f} | {', '.join(map(str, s['epochs']))} | "
            f"{', '.join(_pct(t) for t in s['test'])} | {sd} | {flat} |"
        )
    if p.get("others"):
        runs = "; ".join(
            f"{q['name']}, {q['epochs']} epochs" + (", one seed" if q["seeds"] == 1 else "") + ": headroom "
            + ("-" if q["headroom_points"] is None else f"{q['headroom_points']:.1f} points")
            + ", seed SD " + ("-" if q["seed_sd_points_max"] is None else f"{q['seed_sd_points_max']:.2f} points")
            for q in p["others"]
        )
        out += ["", f"Pilots of the same task at other lengths: {runs}. A headroom measured before the curves flatten is no reference."]
    return out


def _sha(doc: dict[str, Any]) -> str:
    """The headline checkpoint with its length: variants differ in epochs as well as in flags."""
    if not doc.get("checkpoint_sha256"):
        return "not trained yet"
    epochs = doc.get("checkpoint_epochs") or doc["variants"].get(doc["headline"], {}).get("epochs")
    return f"`{doc['checkpoint_sha256'][:12]}`" + (f", {epochs} epochs" if epochs else "")


def _two_seeds(doc: dict[str, Any]) -> int:
    return sum(len(s["alone"]) >= 2 for s in doc["subnets"])


def _ranking(doc: dict[str, Any]) -> list[str]:
    r = doc["figures"]["ranking"]
    if not r:
        return []
    regret = "-" if r["top5_regret_points"] is None else f"{r['top5_regret_points']:.1f} points"
    rows = [("supernet (inherited accuracy)", r["tau"]), ("seed 0 against seed 1 alone (the ceiling)", r["ceiling"])]
    rows += [(f"proxy: {p}, more is better", t) for p, t in r["proxies"].items()]
    rows += [(f"supernet within band {b} ({doc['bands'][b]:.3f} ms ± 5%)", t) for b, t in r["bands"].items()]
    if a := doc["figures"].get("as_run"):
        rows += [("supernet, against seeds 0 and 1 as they came out", a["tau"]), ("seed 0 against seed 1 as they came out", a["ceiling"])]
    return [
        "## Ranking",
        "",
        f"The {doc['headline']} supernet (checkpoint {_sha(doc)}, LUT {doc['lut']}), its subnets evaluated as the search evaluates them "
        f"(extracted, BatchNorm recalibrated), against the mean stand-alone test accuracy of {r['subnets']} subnets; Kendall τ with a 95% "
        f"bootstrap interval over subnets. Top-5 regret (best alone overall minus best alone among the supernet's top 5): {regret}."
        + ("" if r["complete"] else f" **Preliminary:** the reference is not complete ({_two_seeds(doc)} of its {len(doc['subnets'])} subnets "
           "trained alone with both seeds so far), so these τ are not judged against the goals yet.")
        + _not_learned_sentence(doc) + _restored_sentence(doc),
        "",
        "| ranking of the subnets by | subnets | Kendall τ [95%] |",
        "|---|---:|---:|",
        *(f"| {name} | {'-' if t is None else t['subnets']} | {_tau(t)} |" for name, t in rows),
        "",
        "### Ablation",
        "",
        "| variant | `bench train` flags | epochs | training (s) | calibration images | Kendall τ [95%] |",
        "|---|---|---:|---:|---:|---:|",
        *(
            f"| {a['variant']} (`{doc['variants'][a['variant']]['checkpoint_sha256'][:12]}`{_restored(doc['variants'][a['variant']])}) | "
            f"{_flags(doc['variants'][a['variant']]['flags'])} | {a['epochs']} | {a['seconds']:.0f} | {a['calibration_images']} | {_tau(a['tau'])} |"
            for a in doc["figures"]["ablation"]
        ),
        *(
            ["", "Rows marked *restored* are the last run's, taken from the committed document with the reference (`restore`): their "
             "checkpoints were trained on another machine and are not here, so they are shown under their own checkpoints, not re-ranked."]
            if any(v.get("restored") for v in doc["variants"].values()) else []
        ),
        *(
            ["", "With `--fixed-shortcuts` no stage's first block takes its skip, so that variant ranks subnets that lack the skip "
             "the reference's subnets, trained alone, take where a stride-1 transition's widths match."]
            if any("--fixed-shortcuts" in v["flags"] for v in doc["variants"].values()) else []
        ),
    ]


def _not_learned_sentence(doc: dict[str, Any]) -> str:
    """Which runs did not learn, the rule that replaced them, and where the figures without it are."""
    a = doc["figures"].get("as_run")
    if not a:
        return ""
    runs = ", ".join(
        f"`{f['hash'][:8]}` seed {f['seed']} ({_pct(f['test'])}, " + ("never left chance" if f["rise_epoch"] is None else f"left it at epoch {f['rise_epoch']}") + ")"
        for f in a["did_not_learn"]
    )
    total = sum(len(s["alone"]) + len(s.get("did_not_learn", [])) for s in doc["subnets"])
    return (
        f" {len(a['did_not_learn'])} of the reference's {total} stand-alone runs did not learn (held-out accuracy still below "
        f"{a['left_chance']} times chance, {_pct(a['left_chance'] * a['chance'])}, after half their epochs): {runs}. Such a run had less than half its schedule to learn and "
        "measures its seed, not its subnet: it is shown below but not averaged, and the subnet's next seed replaces it; the last two rows "
        "give the figures with seeds 0 and 1 as they came out (one seed's SD "
        + ("-" if a["seed_sd_points"] is None else f"{a['seed_sd_points']:.2f} points") + " then)."
    )


def _restored_sentence(doc: dict[str, Any]) -> str:
    r = doc.get("restored")
    if not r:
        return ""
    return (
        f" The reference's stand-alone runs are the last run's ({r['date']}), restored from `{r['source']}` (`restore`): they do not "
        "depend on the supernet, so this checkpoint is ranked against them as they were."
    )


def _restored(variant: dict[str, Any]) -> str:
    return ", restored" if variant.get("restored") else ""


def _flags(flags: list[str]) -> str:
    return f"`{' '.join(flags)}`" if flags else "none"


def _subnets(doc: dict[str, Any]) -> list[str]:
    h = doc["figures"]["headroom"]
    out = [
        "## Subnets trained alone (the reference, and the task's headroom)",
        "",
        f"Each trained alone from scratch (epochs: {doc['recipe']['epochs']}, seeds as listed); test accuracy per seed, whether its "
        f"held-out curve was flat over its last 20% of epochs, and the inherited accuracy in the {doc['headline']} supernet "
        f"(checkpoint {_sha(doc)}); predicted latency by LUT {doc['lut']}. Headroom "
        + ("-" if h["points"] is None else f"{h['points']:.1f} points") + ", one seed's SD "
        + ("-" if h["seed_sd_points"] is None else f"{h['seed_sd_points']:.2f} points") + "." + _rise_sentence(doc),
        "",
        "| subnet | band | predicted ms | params (M) | MFLOPs | alone, per seed | converged | rose at epoch | inherited |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for s in sorted(doc["subnets"], key=lambda s: s["predicted_ms"]):
        alone = ", ".join(f"{_pct(a)}" + (f" (seed {seed})" if seed >= 2 else "") for a, seed in zip(s["alone"], s.get("seeds", range(9)))) or "-"
        alone += "".join(f"; seed {f['seed']} {_pct(f['test'])}, did not learn" for f in s.get("did_not_learn", []))
        converged = ", ".join({True: "yes", False: "no", None: "too short"}[c] for c in s["converged"]) or "-"
        out.append(
            f"| `{s['hash'][:8]}` {s['role']} | {s['band'] or '-'} | {s['predicted_ms']:.3f} | {s['params'] / 1e6:.3f} | {s['flops'] / 1e6:.1f} | "
            f"{alone} | {converged} | {', '.join('-' if e is None else str(e) for e in s.get('rise_epoch', [])) or '-'} | "
            f"{_pct(s['inherited'].get(doc['headline']))} |"
        )
    return out


def _rise_sentence(doc: dict[str, Any]) -> str:
    """What the "rose at epoch" column means, and whether the seed that rose later ended lower."""
    r = doc["figures"]["later_rise"]
    text = (
        f" A run first sits at chance: \"rose at epoch\" is the first epoch whose held-out accuracy reached {r['left_chance']} times chance "
        "(the seed decides it, and a late rise leaves less time at a high learning rate)."
    )
    if r["pairs"]:
        text += f" Of {r['pairs']} subnets whose two seeds rose at different epochs, the later seed ended lower in {r['later_ended_lower']}."
    return text


def _strategies(doc: dict[str, Any]) -> list[str]:
    pairs = doc["figures"]["strategies"]
    if not pairs:
        return []
    return [
        "## Search strategies, paired by seed",
        "",
        f"Each seed runs random search, plain evolution and coarse-to-fine on the {doc['headline']} supernet (checkpoint {_sha(doc)}, "
        f"LUT {doc['lut']}) at the same budget and evaluation count, as `bench search` runs them (budget calibrated on the LUT's "
        f"validation, subnets ranked on {_selection_name(doc)}, the measured finish); the delivered model's inherited test accuracy, one "
        "strategy minus the other (points, mean with 95% t interval), and the seeds each wins. Beside it, the same difference on the "
        "split each search ranks on: a strategy ahead there and behind on test has found that split's noise, not a better subnet.",
        "",
        "| budget (ms) | difference | seeds | test, mean (points) | wins / losses / ties | search split, mean (points) |",
        "|---:|---|---:|---:|---:|---:|",
        *(
            f"| {p['budget_ms']:.3f} | {p['better']} − {p['worse']} | {p['seeds']} | {_difference(p)} | {p['wins']} / {p['losses']} / {p['ties']} | "
            f"{_difference(h)} |"
            for p, h in zip(pairs, doc["figures"]["strategies_holdout"])
        ),
    ]


def _difference(pair: dict[str, Any]) -> str:
    return f"{pair['mean']:+.1f}" + ("" if pair["half"] is None else f" ± {pair['half']:.1f}")


def _all_trained(entries: list[dict[str, Any]]) -> bool:
    """Whether `found` has drawn its figure: every found model and the hand-pick trained alone, 2 seeds each."""
    return all(len(e[m]["alone"]) >= 2 for e in entries for m in ("found", "hand"))


def _found(doc: dict[str, Any]) -> list[str]:
    entries = doc["found_vs_hand"]
    if not entries:
        return []
    out = [
        "## Found against hand-picked, both trained alone",
        "",
        f"Coarse-to-fine on the {doc['headline']} supernet (checkpoint {_sha(doc)}, LUT {doc['lut']}) at the hand-pick's measured latency "
        "and at the two band budgets, as `bench search` runs it: the model its measured finish delivers (*found*: the most accurate of the "
        f"{len(entries[0]['candidates'])} most accurate candidates that measures within the budget + 5%) and the MobileViT-like hand-pick "
        "trained alone (per seed) and with inherited weights (what `bench search` delivers). Beside them, labelled, what the finish and "
        "the calibration each change: the LUT's *first choice* (the most accurate candidate, delivered without the finish) and the "
        "*point-only* search's (priced by point predictions, as this benchmark searched before). Latency measured on host in the LUT's "
        "bursts, scaled to the LUT's speed by its anchor network; the candidates are timed with seeded weights (a float32 program's "
        "latency does not depend on them).",
        "",
        *(["![found vs hand-picked](search_quality_found.png)", ""] if _all_trained(entries) else ["The figure comes once every model is trained alone.", ""]),
        "| budget | model | alone, per seed | inherited (test) | search split | measured ms | × budget |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for e in entries:
        rows = [("found", e["found"]), ("first choice, no finish", e["first_choice"]), ("point-only, no finish", e["point_only"]), ("hand", e["hand"])]
        for name, m in rows:
            out.append(
                f"| {e['label']} {e['budget_ms']:.3f} ms | {name} `{m['hash'][:8]}` | {', '.join(_pct(a) for a in m.get('alone', [])) or '-'} | "
                f"{_pct(m['inherited'])} | {_pct(m.get('holdout'))} | {m['measured_ms']:.3f} | {m['measured_ms'] / e['budget_ms']:.2f} |"
            )
    versus = [f for f in doc["figures"]["found"] if f["margin_points"] is not None]
    if versus:
        out += ["", "Each found model against the hand-pick, both trained alone: " + "; ".join(
            f"{f['label']} {f['margin_points']:+.1f} points at {f['vs_hand_latency']:.2f}× its measured latency" for f in versus
        ) + "."]
    return out


def _selection_name(doc: dict[str, Any]) -> str:
    s = doc.get("selection") or {}
    return f"{s.get('name', 'the held-out part of train/')} ({s['images']} images)" if s.get("images") else s.get("name", "the held-out part of train/")


def _finish(doc: dict[str, Any]) -> list[str]:
    f = doc["figures"].get("finish")
    if not f:
        return []
    def given(key: str) -> str:
        g = f[key]
        return "-" if g is None else f"{g['mean']:.1f}" + ("" if g["half"] is None else f" ± {g['half']:.1f}")
    found = [x for x in doc["figures"]["found"]]
    return [
        "## The measured finish",
        "",
        f"Over the {f['searches']} strategy searches, the LUT's first choice (the most accurate candidate within the calibrated budget) "
        f"measured over its budget + 5% in {f['first_over']}; the finish delivered another candidate in {f['moved']} and found none within "
        f"in {f['none_fit']}. Where it delivered another, it gave up {given('given_up_holdout_points')} points on the search split and "
        f"{given('given_up_test_points')} on test (mean with 95% t interval). Of the {f['found']} found searches, the first choice was over "
        f"in {f['found_first_over']}: " + ", ".join(
            f"{x['label']} {x['first_ratio']:.2f}× (point-only {x['point_only_ratio']:.2f}×), delivered {x['ratio']:.2f}×" for x in found
        ) + ".",
    ]


def _selection(doc: dict[str, Any]) -> list[str]:
    s = doc["figures"].get("selection")
    if not s:
        return []
    rows = [f"| {b} ({x['budget_ms']:.3f} ms ± 5%) | {x['subnets']} | {x['sd_points']:.2f} | {x['range_points']:.1f} |" for b, x in s["bands"].items()]
    return [
        "## The split a search ranks on",
        "",
        f"Subnets are ranked on {_selection_name(doc)}, apart from the training, reference and test images (`bench data` writes it from a "
        f"generator of its own). One accuracy's standard error there is {s['se_points']:.2f} points (at {s['at_accuracy']:.0%}, the found "
        "models' mean); beside it, how far apart the subnets a search chooses among are: random subnets predicted within ±5% of each band's "
        "budget, on the same split.",
        "",
        "| band | subnets | SD (points) | range (points) |",
        "|---|---:|---:|---:|",
        *rows,
    ]


def _quick(doc: dict[str, Any]) -> list[str]:
    quick = doc["quick_path"]
    if not quick:
        return []
    out = ["## The quick path, as printed", "", quick["summary"], ""]
    return out + ["| step | seconds |", "|---|---:|", *(f"| `{s['step']}` | {s['seconds']:.0f} |" for s in quick["steps"])]


def _rerun(doc: dict[str, Any]) -> list[str]:
    """The commands that made this page, section by section, with this run's task, LUT and length:
    each section resumes where it stopped, and `--part i --parts n` shares one among processes."""
    task, epochs = doc["data_command"].removeprefix("bench "), doc["recipe"]["epochs"]
    common = f'--task "{task}" --lut {doc["lut"][:8]} --epochs {epochs}'
    run = ".venv/bin/python -m benchmarks.search_quality"
    variant = f"--variant {doc['headline']}"
    steps = [
        f'{run} restore --task "{task}" --epochs {epochs}   # the last run\'s reference, from the committed document',
        f"{run} alone {common} --part 0 --parts 2   # and --part 1 in a second process",
        f"{run} supernets {common}",
        f"{run} ranking --lut {doc['lut'][:8]} --epochs {epochs} {variant}",
        f"{run} strategies {common} {variant} --part 0 --parts 2   # and --part 1 in a second process",
        f"{run} found {common} {variant} --no-train",
        f"{run} measure --lut {doc['lut'][:8]} {variant}   # a quiet machine",
        f"{run} found {common} {variant}",
        f"{run} report {common} {variant}",
        f"{run} page",
    ]
    return [
        "## Running it again",
        "",
        "Every section keeps one JSON file per run under `runs/search-quality/`, each naming the checkpoint, LUT and task it came from; "
        "it skips what is done, redoes what other inputs made, and resumes what was cut short "
        "(a stand-alone run from its last epoch, a supernet from its last checkpoint); `--device cuda` trains and evaluates on a GPU. "
        "The task's pilot is `benchmarks/task_pilot.py`; `adopt` takes its runs of reference subnets instead of training them again.",
        "",
        "```sh",
        *steps,
        "```",
    ]


def render(doc: dict[str, Any]) -> str:
    recipe = ", ".join(f"{k} {v}" for k, v in doc["recipe"].items())
    lines = [
        "# Search quality",
        "",
        verdict(doc),
        "",
        f"Measured {doc['date']} on {doc['machine']} by `benchmarks/search_quality.py` (every figure below is recomputed from "
        f"[search_quality.json](search_quality.json)). Task: `{doc['data_command']}` at {doc.get('lut_resolution', 64)} px; LUT {doc['lut']}; "
        f"recipe: {recipe}.",
        "",
    ]
    for part in (_found, _finish, _selection, _strategies, _quick, _ranking, _subnets, _pilot, _rerun):
        if section := part(doc):
            lines += [*section, ""]
    return "\n".join(lines)
