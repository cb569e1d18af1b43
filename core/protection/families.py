"""The model families whose autoencoders Fixative measures: the one table of them.

Protection is aimed at FLUX.2's autoencoder (TAEF2). SDXL's (TAESDXL, shared by Pony,
Illustrious and NoobAI) and FLUX.1's (TAEF1) are shipped for measuring and previewing only, so
that every figure the project reports says what *each* family sees, not only the one it aims at.
`fixative check`, the preview, the evaluation scripts and the host dialogs read this table;
nothing else lists families. Each family's encoder and decoder graphs are listed by role in
models/manifest.json (`fixative.protection.graphs`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SettingsError


@dataclass(frozen=True)
class Family:
    """One latent-diffusion model family, seen through its tiny autoencoder."""

    id: str  # what `--family` and JSON keys say
    name: str  # what a user reads
    autoencoder: str  # the tiny autoencoder that stands in for the family's VAE
    encoder: str  # graph roles in models/manifest.json
    decoder: str
    latent_channels: int
    target: bool = False  # the perturbation is aimed at this family

    @property
    def short(self) -> str:
        """The name without its parenthesis: "SDXL"."""
        return self.name.split(" (", 1)[0]

    @property
    def label(self) -> str:
        """The name and its autoencoder, as a preview row or a table column says it."""
        return f"{self.name}, {self.autoencoder}"


FAMILIES: tuple[Family, ...] = (
    Family("flux2", "FLUX.2", "TAEF2", "encoder", "decoder", 32, target=True),
    Family(
        "sdxl",
        "SDXL (also Pony, Illustrious, NoobAI)",
        "TAESDXL",
        "sdxl_encoder",
        "sdxl_decoder",
        4,
    ),
    Family("flux1", "FLUX.1", "TAEF1", "flux1_encoder", "flux1_decoder", 16),
)
IDS: tuple[str, ...] = tuple(f.id for f in FAMILIES)
TARGET: Family = next(f for f in FAMILIES if f.target)
# Colour-matched AI view within this many dB of noise's: the family "sees it about as it sees
# noise of the same visibility" (the words of `fixative check` and the docs).
NOISE_LIKE_DB = 3.0


def get(family_id: str) -> Family:
    for family in FAMILIES:
        if family.id == family_id:
            return family
    msg = f"unknown model family {family_id!r}; known: {', '.join(IDS)}"
    raise SettingsError(msg)


def chosen(ids: list[str] | tuple[str, ...] | None) -> tuple[Family, ...]:
    """The families named by `ids` in the table's order, each once; all of them when empty."""
    if not ids:
        return FAMILIES
    wanted = {get(i).id for i in ids}
    return tuple(f for f in FAMILIES if f.id in wanted)


def graph_roles() -> tuple[str, ...]:
    """Every encoder and decoder role the table names."""
    return tuple(role for f in FAMILIES for role in (f.encoder, f.decoder))


def seen_words(family: Family, db_below_noise: float | None) -> str:
    """How a family sees a protected picture against noise of the same visibility, in words,
    from the colour-matched AI view's dB below noise's."""
    if db_below_noise is None:
        return f"{family.short} sees no change (identical pixels)"
    amount = f"{abs(db_below_noise):.1f} dB {'worse' if db_below_noise >= 0 else 'better'}"
    if abs(db_below_noise) < NOISE_LIKE_DB:
        return f"{family.short} sees it about as it sees noise of the same visibility: {amount}"
    if db_below_noise > 0:
        return (
            f"{family.short} sees it far more wrongly than noise of the same visibility: {amount}"
        )
    return f"{family.short} sees it more faithfully than noise of the same visibility: {amount}"
