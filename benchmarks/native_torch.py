"""The four benchmarked networks written in plain PyTorch, as a PyTorch user would write them.

Each is the recipe's network at its defaults, the same layers and the same parameter count:
``torch.nn`` modules in PyTorch's own layout (channels first, ``nn.LSTM``, a fused query-key-value
projection and ``scaled_dot_product_attention``), trained by the usual loop of ``zero_grad``,
``backward`` and ``Adam.step``. The model returns logits and the loss is ``cross_entropy``: the
recipes' softmax and cross-entropy of probabilities, in the form PyTorch users write.

``keras_layout(net)`` lists the parameters in the order of the Keras model's trainable weights,
each with the change of layout that turns a Keras weight into it: the tests load a trained Keras
model's weights this way and check that both networks give the same outputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "elu": F.elu,
               "selu": F.selu}  # fmt: skip


def _transposed(array: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(array).T  # Keras' Dense kernel is (in, out); nn.Linear's weight is (out, in)


def _linear(layer: nn.Linear) -> list:
    return [(layer.weight, _transposed), (layer.bias, torch.as_tensor)]


class MLP(nn.Module):
    def __init__(self, config: dict) -> None:
        super().__init__()
        widths = [math.prod(config["input_shape"]), *config["hidden_units"]]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.out = nn.Linear(widths[-1], config["num_classes"])
        self.activation = ACTIVATIONS[config["activation"]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)  # (batch, features)
        for layer in self.hidden:
            x = self.activation(layer(x))
        return self.out(x)  # (batch, classes) logits

    def keras_layout(self) -> list:
        return [pair for layer in [*self.hidden, self.out] for pair in _linear(layer)]


def random_shift(images: torch.Tensor, max_shift: int) -> torch.Tensor:
    """The cnn recipe's augmentation: each image moved by whole pixels, as a product with one-hot matrices."""
    batch, _, height, width = images.shape

    def shifts(size: int) -> torch.Tensor:
        offsets = torch.randint(-max_shift, max_shift + 1, (batch, 1, 1), device=images.device)
        rows, cols = (
            torch.arange(size, device=images.device)[:, None],
            torch.arange(size, device=images.device),
        )
        return (rows - offsets == cols).to(images.dtype)  # (batch, size, size)

    return torch.einsum("bij,bcjw,bkw->bcik", shifts(height), images, shifts(width))  # (batch, c, h, w)


class CNN(nn.Module):
    def __init__(self, config: dict) -> None:
        super().__init__()
        height, width, channels = config["input_shape"]
        size, kernel = config["kernel_size"], [height, width]
        self.convolutions = nn.ModuleList()
        for filters in config["filters"]:
            self.convolutions.append(nn.Conv2d(channels, filters, size, padding="same"))
            self.convolutions.append(nn.Conv2d(filters, filters, size, padding="same"))
            channels, kernel = filters, [side // 2 for side in kernel]
        self.final_shape = (channels, *kernel)  # (channels, height, width) before flattening
        self.dense = nn.Linear(math.prod(self.final_shape), config["dense_units"])
        self.out = nn.Linear(config["dense_units"], config["num_classes"])
        self.shift, self.dropout = config["shift"], config["dropout"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2)  # the data's (batch, height, width, channels) -> PyTorch's channels first
        if self.training and self.shift:
            x = random_shift(x, self.shift)
        for i, convolution in enumerate(self.convolutions):
            x = F.relu(convolution(x))
            if i % 2:
                x = F.max_pool2d(x, 2)  # (batch, filters, height / 2, width / 2)
        x = F.dropout(x.flatten(1), self.dropout, self.training)  # (batch, channels * height * width)
        return self.out(F.relu(self.dense(x)))  # (batch, classes) logits

    def keras_layout(self) -> list:
        # Keras (height, width, in, out) -> PyTorch (out, in, height, width)
        def kernel(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(array).permute(3, 2, 0, 1)

        # Keras flattens (height, width, channels); PyTorch (channels, height, width)
        def flattened(array: np.ndarray) -> torch.Tensor:
            channels, height, width = self.final_shape
            array = torch.as_tensor(array).reshape(height, width, channels, -1).permute(2, 0, 1, 3)
            return array.reshape(channels * height * width, -1).T

        layers = [[(c.weight, kernel), (c.bias, torch.as_tensor)] for c in self.convolutions]
        layers += [[(self.dense.weight, flattened), (self.dense.bias, torch.as_tensor)], _linear(self.out)]
        return [pair for layer in layers for pair in layer]


class LSTM(nn.Module):
    def __init__(self, config: dict) -> None:
        super().__init__()
        _, features = config["input_shape"]
        self.lstm = nn.LSTM(features, config["units"], batch_first=True)
        # nn.LSTM adds two biases where Keras has one: the second stays zero and is not trained.
        self.lstm.bias_hh_l0.data.zero_()
        self.lstm.bias_hh_l0.requires_grad_(False)
        self.out = nn.Linear(config["units"], config["num_classes"])
        self.dropout = config["dropout"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, features)
        if self.training and self.dropout:  # Keras' LSTM dropout: one mask for every step of a sequence
            keep = torch.full_like(x[:, :1], 1 - self.dropout)
            x = x * torch.bernoulli(keep) / (1 - self.dropout)
        _, (last, _) = self.lstm(x)  # last: (1, batch, units)
        return self.out(last[0])  # (batch, classes) logits

    def keras_layout(self) -> list:  # both order the gates input, forget, cell, output
        lstm = self.lstm
        return [
            (lstm.weight_ih_l0, _transposed),
            (lstm.weight_hh_l0, _transposed),
            (lstm.bias_ih_l0, torch.as_tensor),
            *_linear(self.out),
        ]


class EncoderBlock(nn.Module):
    """Pre-norm: x + attention(norm(x)), then x + feed_forward(norm(x))."""

    def __init__(self, width: int, heads: int, ffn_width: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.attention_norm = nn.LayerNorm(width, eps=1e-6)
        self.qkv = nn.Linear(width, 3 * width)  # query, key and value projections in one matrix
        self.project = nn.Linear(width, width)
        self.ffn_norm = nn.LayerNorm(width, eps=1e-6)
        self.expand, self.contract = nn.Linear(width, ffn_width), nn.Linear(ffn_width, width)

    def forward(
        self, x: torch.Tensor, keep: torch.Tensor
    ) -> torch.Tensor:  # x (batch, time, width); keep (batch, time), False at padding
        batch, time, width = x.shape
        qkv = self.qkv(self.attention_norm(x)).view(batch, time, 3, self.heads, width // self.heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each (batch, heads, time, head_width)
        attended = F.scaled_dot_product_attention(query, key, value, attn_mask=keep[:, None, None, :])
        attended = attended.transpose(1, 2).reshape(batch, time, width)
        x = x + F.dropout(self.project(attended), self.dropout, self.training)
        h = self.contract(F.gelu(self.expand(self.ffn_norm(x))))
        return x + F.dropout(h, self.dropout, self.training)  # (batch, time, width)

    def keras_layout(self) -> list:
        # Keras' query, key or value kernel (width, heads, head_width) -> (out, in)
        def heads_in(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(array).reshape(array.shape[0], -1).T

        # Keras' output kernel (heads, head_width, width) -> (out, in)
        def heads_out(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(array).reshape(-1, array.shape[-1]).T

        def flat(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(array).reshape(-1)

        width = self.project.in_features
        # The fused matrix's rows are [query; key; value].
        rows = [slice(i * width, (i + 1) * width) for i in range(3)]
        projections = [
            pair for r in rows for pair in [(self.qkv.weight[r], heads_in), (self.qkv.bias[r], flat)]
        ]
        output = [(self.project.weight, heads_out), (self.project.bias, flat)]
        norm = [(self.attention_norm.weight, flat), (self.attention_norm.bias, flat)]
        ffn_norm = [(self.ffn_norm.weight, flat), (self.ffn_norm.bias, flat)]
        return [*norm, *projections, *output, *ffn_norm, *_linear(self.expand), *_linear(self.contract)]


class TransformerClassifier(nn.Module):
    def __init__(self, config: dict) -> None:
        super().__init__()
        width, (tokens,) = config["width"], config["input_shape"]
        self.embedding = nn.Embedding(config["vocabulary_size"], width)
        self.positions = nn.Parameter(0.02 * torch.randn(config["max_length"] or tokens, width))
        self.blocks = nn.ModuleList(
            EncoderBlock(width, config["heads"], config["ffn_width"], config["dropout"])
            for _ in range(config["blocks"])
        )
        self.final_norm = nn.LayerNorm(width, eps=1e-6)
        self.out = nn.Linear(width, config["num_classes"])
        self.dropout = config["dropout"]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (batch, time) ids, 0 is padding
        keep = tokens != 0
        x = self.embedding(tokens) + self.positions[: tokens.shape[1]]  # (batch, time, width)
        for block in self.blocks:
            x = block(x, keep)
        x, weights = self.final_norm(x), keep[..., None].to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1)  # the mean over the real tokens
        return self.out(F.dropout(pooled, self.dropout, self.training))  # (batch, classes) logits

    def keras_layout(self) -> list:
        blocks = [pair for block in self.blocks for pair in block.keras_layout()]
        norm = [(self.final_norm.weight, torch.as_tensor), (self.final_norm.bias, torch.as_tensor)]
        return [
            (self.embedding.weight, torch.as_tensor),
            (self.positions, torch.as_tensor),
            *blocks,
            *norm,
            *_linear(self.out),
        ]


NETWORKS = {"mlp": MLP, "cnn": CNN, "lstm": LSTM, "transformer_classifier": TransformerClassifier}


def load_keras_weights(net: nn.Module, arrays: list) -> None:
    """Copy a Keras model's trainable weights (NumPy arrays, in its order) into ``net``."""
    layout = net.keras_layout()
    if len(layout) != len(arrays):
        raise ValueError(
            f"{type(net).__name__} has {len(layout)} weights; the Keras model gave {len(arrays)}"
        )
    with torch.no_grad():
        for (parameter, convert), array in zip(layout, arrays):
            parameter.copy_(convert(np.array(array)).reshape(parameter.shape))  # (a writable copy)


def trainable_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def training_step(
    net: nn.Module, learning_rate: float, compiled: bool = False
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``step(x, y) -> loss``: one Adam update of ``net`` (its forward through ``torch.compile`` if asked)."""
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=learning_rate)
    forward = torch.compile(net) if compiled else net
    net.train()

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(x), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step
