"""PyTorch (CPU, eager) implementations of the same mini-Xception and cpu-vgg, the obvious
alternative the JAX/Flax models are compared with.

The layers mirror :class:`fer_bench.pipelines.deep.networks.MiniXception` one for one: two 3x3
'valid' convolutions, four residual modules of depthwise-separable convolutions (the depthwise
part is ``nn.Conv2d(C, C, 3, groups=C)``, PyTorch's own depthwise kernel) with a 3x3 stride-2
'same' max-pool and a 1x1 stride-2 shortcut, a 3x3 classifier convolution and global average
pooling. :func:`load_flax_variables` copies a Flax model's weights in, so the two compute the
same function (``benchmarks/test_cnn.py`` checks this before timing anything). :class:`VGGTorch`
mirrors :class:`fer_bench.pipelines.deep.networks.VGG` with conv -> BN -> ReLU stages (cpu-vgg's
form) and :func:`load_flax_vgg_variables` copies its weights. :data:`TWINS` names each twin by
the registered pipeline it mirrors.

Only imported when ``torch`` is installed (the optional ``bench`` extra:
``pip install 'fer-bench[bench]'``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fer_bench.pipelines.deep.networks import PIXEL_MEAN, PIXEL_STD

BN_EPS = 1e-3  # Keras' epsilon, as the Flax model uses
BN_MOMENTUM = 0.1  # PyTorch's convention: 1 - the Flax models' 0.9


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def max_pool_3x3_s2_same(x: torch.Tensor) -> torch.Tensor:
    """Keras ``MaxPooling2D(3, 2, "same")``: TensorFlow pads the end (bottom/right) only, where
    ``nn.MaxPool2d(3, 2, padding=1)`` would pad both sides and shift the windows."""
    h, w = x.shape[-2:]
    ph = max((-(-h // 2) - 1) * 2 + 3 - h, 0)
    pw = max((-(-w // 2) - 1) * 2 + 3 - w, 0)
    x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=float("-inf"))
    return F.max_pool2d(x, 3, 2)


class SeparableConv(nn.Module):
    """Depthwise 3x3 ('same', ``groups=C``) then pointwise 1x1 convolution, no biases."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class ResidualModule(nn.Module):
    """sep-conv -> BN -> ReLU -> sep-conv -> BN -> max-pool, plus a 1x1 stride-2 conv -> BN."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.shortcut = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.shortcut_bn = _bn(cout)
        self.sep1, self.bn1 = SeparableConv(cin, cout), _bn(cout)
        self.sep2, self.bn2 = SeparableConv(cout, cout), _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.shortcut_bn(self.shortcut(x))
        x = F.relu(self.bn1(self.sep1(x)))
        x = self.bn2(self.sep2(x))
        return max_pool_3x3_s2_same(x) + residual


class MiniXceptionTorch(nn.Module):
    """Mini-Xception on ``(N, 1, 48, 48)`` float32 pixels in [0, 1] -> ``(N, num_classes)``
    logits (the Flax model's defaults: widths 16, 32, 64, 128, base width 8)."""

    def __init__(self, num_classes: int = 7, widths: tuple[int, ...] = (16, 32, 64, 128),
                 base_width: int = 8) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, base_width, 3, bias=False), _bn(base_width)
        self.conv2, self.bn2 = nn.Conv2d(base_width, base_width, 3, bias=False), _bn(base_width)
        cin, blocks = base_width, []
        for width in widths:
            blocks.append(ResidualModule(cin, width))
            cin = width
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Conv2d(cin, num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - PIXEL_MEAN) / PIXEL_STD
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.blocks(x)
        return self.classifier(x).mean(dim=(2, 3))


def _hwio_to_oihw(kernel) -> torch.Tensor:
    # Flax kernels are HWIO (a depthwise one (3, 3, 1, C)); PyTorch's OIHW ((C, 1, 3, 3)).
    return torch.from_numpy(np.ascontiguousarray(np.asarray(kernel).transpose(3, 2, 0, 1)))


def _set_bn(bn: nn.BatchNorm2d, params: dict, stats: dict) -> None:
    bn.weight.data = torch.from_numpy(np.asarray(params["scale"]).copy())
    bn.bias.data = torch.from_numpy(np.asarray(params["bias"]).copy())
    bn.running_mean.data = torch.from_numpy(np.asarray(stats["mean"]).copy())
    bn.running_var.data = torch.from_numpy(np.asarray(stats["var"]).copy())


def load_flax_variables(model: MiniXceptionTorch, variables: dict) -> MiniXceptionTorch:
    """Copy the weights and batch statistics of a Flax ``MiniXception`` into ``model``.

    ``variables`` is ``{"params": ..., "batch_stats": ...}`` as returned by
    :func:`fer_bench.pipelines.deep.networks.init_variables` or held by a fitted
    ``CNNClassifier.variables_``. Flax numbers its submodules in creation order: the base
    convolutions and batch norms come first, then per residual module the shortcut conv, its
    batch norm, the two separable convs and their batch norms.
    """
    params, stats = variables["params"], variables["batch_stats"]

    def set_bn(bn: nn.BatchNorm2d, index: int) -> None:
        name = f"BatchNorm_{index}"
        _set_bn(bn, params[name], stats[name])

    def set_sep(sep: SeparableConv, index: int) -> None:
        p = params[f"SeparableConv3x3_{index}"]
        sep.depthwise.weight.data = _hwio_to_oihw(p["depthwise"]["kernel"])
        sep.pointwise.weight.data = _hwio_to_oihw(p["pointwise"]["kernel"])

    with torch.no_grad():
        model.conv1.weight.data = _hwio_to_oihw(params["Conv_0"]["kernel"])
        model.conv2.weight.data = _hwio_to_oihw(params["Conv_1"]["kernel"])
        set_bn(model.bn1, 0)
        set_bn(model.bn2, 1)
        for k, block in enumerate(model.blocks):
            block.shortcut.weight.data = _hwio_to_oihw(params[f"Conv_{2 + k}"]["kernel"])
            set_bn(block.shortcut_bn, 2 + 3 * k)
            set_sep(block.sep1, 2 * k)
            set_bn(block.bn1, 3 + 3 * k)
            set_sep(block.sep2, 2 * k + 1)
            set_bn(block.bn2, 4 + 3 * k)
        last = 2 + len(model.blocks)
        model.classifier.weight.data = _hwio_to_oihw(params[f"Conv_{last}"]["kernel"])
        bias = np.asarray(params[f"Conv_{last}"]["bias"]).copy()
        model.classifier.bias.data = torch.from_numpy(bias)
    return model


class VGGTorch(nn.Module):
    """The VGG of the Flax model in its conv -> BN -> ReLU form (cpu-vgg's defaults): per stage
    ``convs`` 3x3 'same' convolutions without bias, each with BN and ReLU, then a 2x2 max-pool;
    ``dense_layers`` x [dense -> ReLU -> dropout] and the classifier. The flattening is NHWC's,
    as Flax's, so the dense weights copy over unchanged."""

    def __init__(self, num_classes: int = 7, widths: tuple[int, ...] = (32, 64, 128, 256),
                 convs: tuple[int, ...] = (1, 2, 3, 3), dense: int = 256, dense_layers: int = 1,
                 dropout: float = 0.4) -> None:
        super().__init__()
        layers, cin = [], 1
        for width, count in zip(widths, convs):
            for _ in range(count):
                layers += [nn.Conv2d(cin, width, 3, padding=1, bias=False), _bn(width),
                           nn.ReLU()]
                cin = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        side = 48 // 2 ** len(widths)
        dims = [side * side * cin] + [dense] * dense_layers
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(dims[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features((x - PIXEL_MEAN) / PIXEL_STD)
        x = x.permute(0, 2, 3, 1).flatten(1)  # NHWC order, as the Flax model flattens
        for layer in self.dense:
            x = self.dropout(F.relu(layer(x)))
        return self.classifier(x)


def _dense_to_linear(linear: nn.Linear, p: dict) -> None:
    linear.weight.data = torch.from_numpy(np.ascontiguousarray(np.asarray(p["kernel"]).T))
    linear.bias.data = torch.from_numpy(np.asarray(p["bias"]).copy())


def load_flax_vgg_variables(model: VGGTorch, variables: dict) -> VGGTorch:
    """Copy the weights and batch statistics of a Flax ``VGG`` (``norm_first``, no conv bias:
    cpu-vgg) into ``model``: ``Conv_i`` / ``BatchNorm_i`` in creation order, ``Dense_i`` for
    the hidden layers and the classifier."""
    params, stats = variables["params"], variables["batch_stats"]
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    norms = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for i, (conv, bn) in enumerate(zip(convs, norms)):
            conv.weight.data = _hwio_to_oihw(params[f"Conv_{i}"]["kernel"])
            _set_bn(bn, params[f"BatchNorm_{i}"], stats[f"BatchNorm_{i}"])
        for i, layer in enumerate(model.dense):
            _dense_to_linear(layer, params[f"Dense_{i}"])
        _dense_to_linear(model.classifier, params[f"Dense_{len(model.dense)}"])
    return model


#: Registered pipeline name -> (PyTorch twin class, weight loader).
TWINS = {
    "mini-xception": (MiniXceptionTorch, load_flax_variables),
    "cpu-vgg": (VGGTorch, load_flax_vgg_variables),
}


def make_train_step(model: nn.Module, learning_rate: float = 1e-3):
    """One Adam step on a batch, as the JAX train step does (cross-entropy on logits).

    Returns ``step(images (B, 1, 48, 48) float32, labels (B,) int64) -> loss tensor``.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    model.train()

    def step(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    return step
