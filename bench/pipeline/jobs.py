"""What a plan expands to: the selected variants and recipes, and the timing slots of each artifact.

Experiments are a product of independent axes (DESIGN.md): variant x recipe x target x delegate x
threads (x steady / sustained settings). An artifact is timed on the targets whose runner takes its
format; the runner class (``device_runners.registry``) says which formats and which default delegates.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from bench.plans import Plan, VariantSpec, variant_label
from common.errors import InputError
from device_runners.registry import runner_class
from device_runners.targets import TargetConfig
from results.identity import Identity, model_identity, sustained_identity
from results.schema import ArtifactFormat, Delegate, TimingSettings


@dataclass(frozen=True)
class VariantWork:
    """One variant of the plan and the recipes selected for it."""

    spec: VariantSpec
    label: str  # the variant's name, with @SIZExWIDTH when resized
    recipes: tuple  # converters.recipes.Recipe, with the plan's and the variant's overrides applied


@dataclass(frozen=True)
class Slot:
    """One place and way to time an artifact."""

    target: TargetConfig
    delegate: Delegate
    threads: int
    settings: TimingSettings

    @property
    def sustained(self) -> bool:
        """Whether this is the sustained-mode timing of the target."""
        return self.settings.sustained_fps is not None

    def describe(self) -> str:
        """``host cpu x2`` (plus `` sustained``)."""
        text = f"{self.target.label} {self.delegate.value} x{self.threads}"
        return text + (" sustained" if self.sustained else "")


def select(plan: Plan, only: str | None) -> list[VariantWork]:
    """The plan's variants and recipes, filtered by ``--only``.

    ``only`` is a comma-separated list of shell wildcards; a pattern keeps a (variant, recipe) pair
    when it matches the variant's name or label, the recipe name, or ``variant/recipe``.

    Raises:
        InputError: a pattern matches nothing (the message lists the names it could match).
    """
    patterns = [p.strip() for p in (only or "").split(",") if p.strip()]
    works = []
    used: set[str] = set()
    for spec in plan.variants:
        label = variant_label(spec)
        kept = []
        for recipe in (plan.recipe(recipe_spec, spec) for recipe_spec in plan.recipes):
            names = (spec.name, label, recipe.name, f"{spec.name}/{recipe.name}", f"{label}/{recipe.name}")
            hits = [p for p in patterns if any(fnmatch.fnmatchcase(n, p) for n in names)]
            used.update(hits)
            if not patterns or hits:
                kept.append(recipe)
        if kept:
            works.append(VariantWork(spec, label, tuple(kept)))
    unused = [p for p in patterns if p not in used]
    if unused:
        allowed = [variant_label(v) for v in plan.variants] + [r.name for r in plan.recipes]
        raise InputError(
            f"--only: {unused[0]!r} matches no variant or recipe of plan {plan.name!r}; "
            f"allowed: wildcards over {', '.join(allowed)} (or variant/recipe)"
        )
    return works


def selection_names(works: list[VariantWork]) -> list[str]:
    """``variant/recipe`` of every selected pair (part of the run's content key)."""
    return [f"{w.label}/{r.name}" for w in works for r in w.recipes]


def slots(plan: Plan, artifact_format: ArtifactFormat) -> list[Slot]:
    """Every timing of an artifact of this format: target x delegate x threads x settings."""
    found = []
    for target in plan.targets:
        runner = runner_class(target.runner)
        if not runner.takes(artifact_format):
            continue
        for delegate in target.delegates or runner.default_delegates(target):
            for threads in target.threads:
                for settings in target.timing_settings(plan.timing, delegate, threads):
                    found.append(Slot(target, delegate, threads, settings))
    return found


def identity(work: VariantWork, recipe: str, slot: Slot) -> Identity:
    """What one record measures (``results.identity``, the one definition), for its deterministic id."""
    spec, target = work.spec, slot.target
    return Identity(
        model=model_identity(spec.name, spec.input_size, spec.width),
        recipe=recipe,
        settings_hash=None,  # the recipe name is unique within a run; records carry the sidecar's hash
        runner=target.runner,
        device_id=target.device_id,
        delegate=slot.delegate.value,
        threads=slot.threads,
        sustained=sustained_identity(slot.settings),
    )
