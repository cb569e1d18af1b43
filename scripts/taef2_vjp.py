"""The TAEF2 encoder's input gradient written out by hand, so that it exports to plain ONNX ops.

`EncoderVJP(encoder)(x, target)` returns (grad, latent): the gradient with respect to `x` of
½‖E(x) − target‖² and E(x) itself, with no autograd at run time. torch's own autograd graph does
not export to ONNX (the dynamo exporter fails at decomposition); this does, with the TorchScript
exporter, and ONNX Runtime then runs it with no torch at all.

Why each backward is written the way it is (measured on ONNX Runtime CPU, ../shared notes §2):
stride-1 3x3 convolutions take their input gradient as a plain `Conv` with the kernel flipped
and its in/out channels swapped, which is faster and lighter than `ConvTranspose`; only the
three stride-2 convolutions use a transposed convolution. ReLU backward is a multiply by the
saved `pre > 0` mask; GroupNorm's backward is the closed form.
Training-side code (torch); the core only ever sees the exported graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from taef2 import Block
from torch import nn


class _Conv:
    """One convolution's forward and input-gradient, with the flipped kernel precomputed."""

    def __init__(self, conv: nn.Conv2d) -> None:
        self.weight = conv.weight.detach().clone()
        self.bias = None if conv.bias is None else conv.bias.detach().clone()
        self.stride = conv.stride[0]
        self.padding = conv.padding[0]
        # Input gradient of a stride-1 conv = conv of the output gradient with this kernel.
        self.flipped = self.weight.flip(2, 3).transpose(0, 1).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def backward(self, g: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return F.conv2d(g, self.flipped, padding=self.weight.shape[-1] - 1 - self.padding)
        # Stride 2, 3x3, padding 1 on even sides: output_padding restores the input size.
        return F.conv_transpose2d(
            g, self.weight, stride=self.stride, padding=self.padding, output_padding=1
        )


class _GroupNorm:
    def __init__(self, norm: nn.GroupNorm) -> None:
        self.groups = norm.num_groups
        self.eps = norm.eps
        self.weight = norm.weight.detach().clone()[None, :, None, None]
        self.bias = norm.bias.detach().clone()[None, :, None, None]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        n, c = x.shape[0], x.shape[1]
        xg = x.reshape(n, self.groups, -1)
        mean = xg.mean(dim=2, keepdim=True)
        var = ((xg - mean) ** 2).mean(dim=2, keepdim=True)
        inv = torch.rsqrt(var + self.eps)
        xhat = ((xg - mean) * inv).reshape(x.shape)
        del c
        return xhat * self.weight + self.bias, (xhat, inv)

    def backward(self, g: torch.Tensor, saved: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        xhat, inv = saved
        n = g.shape[0]
        gx = (g * self.weight).reshape(n, self.groups, -1)
        xh = xhat.reshape(n, self.groups, -1)
        # d/dx of (x - mean) * inv, closed form: inv * (gx - mean(gx) - xhat * mean(gx * xhat)).
        out = inv * (gx - gx.mean(dim=2, keepdim=True) - xh * (gx * xh).mean(dim=2, keepdim=True))
        return out.reshape(g.shape)


class _Block:
    def __init__(self, block: Block) -> None:
        self.convs = [_Conv(block.conv[i]) for i in (0, 2, 4)]
        if block.pool is not None:
            self.pool_in = _Conv(block.pool[0])
            self.pool_norm = _GroupNorm(block.pool[1])
            self.pool_out = _Conv(block.pool[3])
        else:
            self.pool_in = None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list]:
        tape: list = []
        if self.pool_in is not None:
            a = self.pool_in.forward(x)
            b, saved = self.pool_norm.forward(a)
            tape.append((b > 0, saved))
            x = x + self.pool_out.forward(F.relu(b))
        h = x
        masks = []
        for k, conv in enumerate(self.convs):
            h = conv.forward(h)
            if k < 2:
                masks.append(h > 0)
                h = F.relu(h)
        out = h + x
        tape.append(masks)
        tape.append(out > 0)
        return F.relu(out), tape

    def backward(self, g: torch.Tensor, tape: list) -> torch.Tensor:
        g = g * tape[-1]
        masks = tape[-2]
        gh = self.convs[2].backward(g)
        gh = self.convs[1].backward(gh * masks[1])
        gh = self.convs[0].backward(gh * masks[0])
        gx = g + gh
        if self.pool_in is not None:
            relu_mask, saved = tape[0]
            gb = self.pool_out.backward(gx) * relu_mask
            gx = gx + self.pool_in.backward(self.pool_norm.backward(gb, saved))
        return gx


class EncoderVJP(nn.Module):
    """(x, target) -> (∇ₓ ½‖E(x) − target‖², E(x)) for the TAEF2 encoder `nn.Sequential`."""

    def __init__(self, encoder: nn.Sequential) -> None:
        super().__init__()
        self.layers = [_Block(m) if isinstance(m, Block) else _Conv(m) for m in encoder]

    def forward_taped(self, x: torch.Tensor) -> tuple[torch.Tensor, list]:
        tapes: list = []
        h = x
        for layer in self.layers:
            if isinstance(layer, _Block):
                h, tape = layer.forward(h)
                tapes.append(tape)
            else:
                h = layer.forward(h)
                tapes.append(None)
        return h, tapes

    def backward(self, g: torch.Tensor, tapes: list) -> torch.Tensor:
        for layer, tape in zip(reversed(self.layers), reversed(tapes), strict=True):
            g = layer.backward(g, tape) if isinstance(layer, _Block) else layer.backward(g)
        return g

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latent, tapes = self.forward_taped(x)
        return self.backward(latent - target, tapes), latent


class _Clamp:
    """TAEF2's soft clamp tanh(z / 3) * 3 and its derivative 1 - tanh²(z / 3)."""

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.tanh(z / 3)
        return t * 3, 1 - t * t

    @staticmethod
    def backward(g: torch.Tensor, slope: torch.Tensor) -> torch.Tensor:
        return g * slope


def _upsample_backward(g: torch.Tensor) -> torch.Tensor:
    """Nearest 2× upsampling's adjoint: the sum of each 2×2 block."""
    return F.avg_pool2d(g, 2) * 4


class DecoderVJP:
    """Forward with a tape, and the input gradient, of the TAEF2 decoder `nn.Sequential`."""

    def __init__(self, decoder: nn.Sequential) -> None:
        self.layers: list = []
        for m in decoder:
            if isinstance(m, Block):
                self.layers.append(_Block(m))
            elif isinstance(m, nn.Conv2d):
                self.layers.append(_Conv(m))
            elif isinstance(m, nn.Upsample):
                self.layers.append("up")
            elif isinstance(m, nn.ReLU):
                self.layers.append("relu")
            else:
                self.layers.append(_Clamp())

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, list]:
        tapes: list = []
        h = z
        for layer in self.layers:
            if layer == "up":
                h, tape = F.interpolate(h, scale_factor=2.0, mode="nearest"), None
            elif layer == "relu":
                tape = h > 0
                h = F.relu(h)
            elif isinstance(layer, (_Clamp, _Block)):
                h, tape = layer.forward(h)
            else:
                h, tape = layer.forward(h), None
            tapes.append(tape)
        return h, tapes

    def backward(self, g: torch.Tensor, tapes: list) -> torch.Tensor:
        for layer, tape in zip(reversed(self.layers), reversed(tapes), strict=True):
            if layer == "up":
                g = _upsample_backward(g)
            elif layer == "relu":
                g = g * tape
            elif isinstance(layer, (_Clamp, _Block)):
                g = layer.backward(g, tape)
            else:
                g = layer.backward(g)
        return g


def _affine_fit(y: torch.Tensor, y0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image and channel, the least-squares gain a and offset b with a·y + b ≈ y0: the best
    colour correction (auto-levels, colour matching) from `y` back to `y0`."""
    dims = (2, 3)
    my, m0 = y.mean(dim=dims, keepdim=True), y0.mean(dim=dims, keepdim=True)
    dy = y - my
    var = (dy * dy).mean(dim=dims, keepdim=True)
    cov = (dy * (y0 - m0)).mean(dim=dims, keepdim=True)
    a = cov / (var + 1e-12)
    return a, m0 - a * my


class ViewVJP(nn.Module):
    """(x, z₀, y₀, w) -> (∇ₓ L, E(x), D(E(x))) for what the AI sees, as structure and as colour:

        L = w[0] · ½‖E(x) − z₀‖² + w[1] · ½‖D(E(x)) − y₀‖² + w[2] · ½‖a·D(E(x)) + b − y₀‖²

    with a, b the per-channel least-squares fit of y₀ from D(E(x)) (`_affine_fit`). The third
    term is the reconstruction's error left after the best colour correction: a shift that
    auto-levels undoes scores nothing there. Its gradient with respect to y is a·(a·y + b − y₀)
    (a and b are optimal, so their own change contributes nothing: the envelope theorem).
    `w` carries each term's normalisation, so one graph serves any weighting.
    """

    def __init__(self, encoder: nn.Sequential, decoder: nn.Sequential) -> None:
        super().__init__()
        self.enc = EncoderVJP(encoder)
        self.dec = DecoderVJP(decoder)

    def forward(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        target_image: torch.Tensor,
        weights: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z, tapes = self.enc.forward_taped(x)
        y, dtapes = self.dec.forward(z)
        a, b = _affine_fit(y, target_image)
        gy = (y - target_image) * weights[1] + a * (a * y + b - target_image) * weights[2]
        gz = (z - target) * weights[0] + self.dec.backward(gy, dtapes)
        return self.enc.backward(gz, tapes), z, y
