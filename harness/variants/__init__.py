"""Variants: how the model is asked (prompt templates, shots, levers; RAG and LoRA)."""

from harness.variants.prompt import Variant, VariantSpec, load_variant
from harness.variants.shots import ShotSelector, select_shots

__all__ = ["ShotSelector", "Variant", "VariantSpec", "load_variant", "select_shots"]
