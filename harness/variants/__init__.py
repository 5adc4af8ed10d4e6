"""Variants: how the model is asked (prompt templates; later RAG and LoRA)."""

from harness.variants.prompt import Variant, VariantSpec, load_variant, select_shots

__all__ = ["Variant", "VariantSpec", "load_variant", "select_shots"]
