"""How far what the AI sees moved, measured as a sceptic would: the one definition of the
colour-matched AI view, the luma SSIM and the noise baseline, read by `fixative check` and the
evaluation scripts. Pure numpy (no scipy, no torch).

The "AI view" of a picture is the encoder-decoder's reconstruction D(E(x)). A protection that
only tints that reconstruction is undone by any auto-levels step, so each AI-view figure is also
given after the best per-channel gain and offset (least squares) has been fitted from the
protected picture's reconstruction back to the original's: what is left is structure. Every
figure has a baseline: uniform noise of the same image PSNR (the same visibility), seeded and
quantised like the file. Images are float arrays (H, W, 3) in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from ..errors import UnsupportedImageError

if TYPE_CHECKING:
    import numpy as np

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights, as JPEG and most SSIM reports use
SSIM_WINDOW = 7  # uniform 7×7 window (scikit-image's default)
SSIM_C1 = 0.01**2  # stabilisers for a data range of 1 (Wang et al. 2004)
SSIM_C2 = 0.03**2
NOISE_SEED = 0  # one fixed noise pattern: the same baseline on every run
_CALIBRATION_ROUNDS = 8  # amplitude corrections for the noise's PSNR (converges in 2-3)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two images in [0, 1] (inf when identical)."""
    import numpy as np

    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    mse = float(np.mean(d * d))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def colour_matched(recon: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`recon` after the per-channel gain g and offset b minimising ‖g·recon + b − reference‖²,
    clipped to [0, 1]: what an auto-levels or colour-matching step could undo is removed."""
    import numpy as np

    if recon.shape != reference.shape:
        msg = f"cannot colour-match arrays of shapes {recon.shape} and {reference.shape}"
        raise UnsupportedImageError(msg)
    r = np.asarray(recon, np.float64).reshape(-1, recon.shape[-1])
    t = np.asarray(reference, np.float64).reshape(-1, reference.shape[-1])
    mr, mt = r.mean(axis=0), t.mean(axis=0)
    dr = r - mr
    var = np.einsum("ij,ij->j", dr, dr)
    gain = np.einsum("ij,ij->j", dr, t - mt) / np.maximum(var, 1e-20)  # flat channel: offset only
    return np.clip(dr * gain + mt, 0.0, 1.0).reshape(recon.shape)


def luma(image: np.ndarray) -> np.ndarray:
    """The luma (BT.601 weights) of an RGB(A) image, float64 (H, W)."""
    import numpy as np

    return np.asarray(image[..., :3], np.float64) @ np.asarray(LUMA, np.float64)


def _box_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Mean over every k×k window inside `x` ('valid'), by a summed-area table."""
    import numpy as np

    s = np.zeros((x.shape[0] + 1, x.shape[1] + 1), np.float64)
    np.cumsum(np.cumsum(x, axis=0), axis=1, out=s[1:, 1:])
    return (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) / (k * k)


def ssim_luma(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of the two images' luma: uniform 7×7 window, C1 = 0.01², C2 = 0.03², the mean over
    every window that fits inside the image (1 = identical)."""
    ya, yb = luma(a), luma(b)
    if ya.shape != yb.shape:
        msg = f"cannot compare images of sizes {ya.shape[::-1]} and {yb.shape[::-1]}"
        raise UnsupportedImageError(msg)
    k = SSIM_WINDOW
    if min(ya.shape) < k:
        msg = f"SSIM needs images of at least {k}x{k} pixels, not {ya.shape[1]}x{ya.shape[0]}"
        raise UnsupportedImageError(msg)
    mu_a, mu_b = _box_mean(ya, k), _box_mean(yb, k)
    var_a = _box_mean(ya * ya, k) - mu_a * mu_a
    var_b = _box_mean(yb * yb, k) - mu_b * mu_b
    cov = _box_mean(ya * yb, k) - mu_a * mu_b
    num = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_a * mu_a + mu_b * mu_b + SSIM_C1) * (var_a + var_b + SSIM_C2)
    return float((num / den).mean())


def matched_noise(
    clean: np.ndarray, target_psnr: float, *, levels: int | None = 255, seed: int = NOISE_SEED
) -> np.ndarray:
    """`clean` plus uniform noise whose image PSNR against `clean` is `target_psnr` (to about
    0.01 dB): one seeded pattern, its amplitude calibrated after quantisation to `levels` steps
    (255 for an 8-bit file, 65535 for 16 bits, None for float) and clipping to [0, 1], as a
    written file would be. Float32, the shape of `clean`."""
    import numpy as np

    clean = np.asarray(clean, np.float32)
    if math.isinf(target_psnr):
        return clean.copy()
    pattern = np.random.default_rng(seed).uniform(-1.0, 1.0, clean.shape).astype(np.float32)

    def noisy(amplitude: float) -> np.ndarray:
        out = clean + np.float32(amplitude) * pattern
        if levels is not None:
            out *= levels
            np.rint(out, out=out)
            out /= levels
        return np.clip(out, 0.0, 1.0, out=out)

    amplitude = math.sqrt(3.0 * 10 ** (-target_psnr / 10))  # U(-a, a) has variance a²/3
    best, best_err = clean, math.inf
    for _ in range(_CALIBRATION_ROUNDS):
        candidate = noisy(amplitude)
        got = psnr(candidate, clean)
        if abs(got - target_psnr) < best_err:
            best, best_err = candidate, abs(got - target_psnr)
        if best_err < 0.005 or math.isinf(got):
            break
        amplitude *= 10 ** ((got - target_psnr) / 20)
    return best


@dataclass(frozen=True)
class AIView:
    """How far the AI's reconstruction of a changed picture is from that of the original
    (lower = the AI sees the picture more wrongly)."""

    psnr: float  # PSNR(D(E(x′)), D(E(x))), dB
    psnr_colour_matched: float  # the same after `colour_matched`: what a colour correction leaves
    ssim: float  # `ssim_luma` of the colour-matched reconstruction against the original's

    @classmethod
    def of(cls, recon: np.ndarray, reference: np.ndarray) -> AIView:
        matched = colour_matched(recon, reference)
        return cls(psnr(recon, reference), psnr(matched, reference), ssim_luma(matched, reference))

    def to_dict(self, prefix: str = "") -> dict[str, float | None]:
        """Under `prefix`+`ai_view_…` keys, inf (identical) as None: JSON has no infinity."""
        return {
            f"{prefix}ai_view_{k}": None if math.isinf(v) else v for k, v in asdict(self).items()
        }


def gaps(protected: AIView, noise: AIView) -> dict[str, float | None]:
    """How much further the protection moves the AI view than noise of the same visibility:
    dB below noise's (plain and colour-matched; positive = stronger than noise) and SSIM below
    noise's. None where a PSNR is infinite."""

    def below(noise_db: float, protected_db: float) -> float | None:
        finite = not (math.isinf(noise_db) or math.isinf(protected_db))
        return noise_db - protected_db if finite else None

    return {
        "ai_view_db_below_noise": below(noise.psnr, protected.psnr),
        "ai_view_colour_matched_db_below_noise": below(
            noise.psnr_colour_matched, protected.psnr_colour_matched
        ),
        "ai_view_ssim_below_noise": noise.ssim - protected.ssim,
    }
