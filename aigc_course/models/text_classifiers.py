"""Text classifiers for chapter 09 (and the sentiment API of chapters 12 and 14).

Every neural model maps a padded batch of token ids ``(N, L)`` (int64, ``0`` = padding) to class
logits ``(N, K)``; the TF-IDF baseline maps a sparse TF-IDF matrix ``(N, V)`` to logits ``(N, K)``.
Probabilities are ``softmax(logits / T)`` with a temperature ``T`` fitted after training.

* :class:`TfidfLogisticRegression` — multinomial logistic regression on TF-IDF n-grams: one linear
  layer over a sparse bag of n-grams (fitted by scikit-learn, served by torch).
* :class:`TextCNN` — Kim (2014): embeddings, 1-D convolutions of several widths, max-over-time pooling.
* :class:`BiLSTMClassifier` — a bidirectional LSTM read over the tokens, masked max-pooling.
* :class:`TransformerClassifier` — a small Transformer encoder (learned positions, pre-norm),
  masked mean-pooling.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.training import count_parameters  # noqa: F401  (re-exported for chapter 09)

PAD_ID = 0


def padding_mask(ids: torch.Tensor) -> torch.Tensor:
    """``True`` at real tokens: ids ``(N, L)`` → mask ``(N, L)`` bool."""
    return ids != PAD_ID


class TfidfLogisticRegression(nn.Module):
    """``logits = x Wᵀ + b`` for a (sparse) TF-IDF matrix ``x`` ``(N, V)`` → ``(N, K)``.

    The weights usually come from a fitted scikit-learn ``LogisticRegression`` (:meth:`from_sklearn`),
    so that the baseline is served, saved and loaded exactly like the neural models.
    """

    def __init__(self, num_features: int, num_classes: int = 3):
        super().__init__()
        self.linear = nn.Linear(num_features, num_classes)

    @classmethod
    def from_sklearn(cls, classifier) -> TfidfLogisticRegression:
        """Copy ``coef_`` ``(K, V)`` and ``intercept_`` ``(K,)`` of a fitted multinomial LogisticRegression."""
        coef = torch.as_tensor(classifier.coef_, dtype=torch.float32)
        model = cls(coef.shape[1], coef.shape[0])
        with torch.no_grad():
            model.linear.weight.copy_(coef)
            model.linear.bias.copy_(torch.as_tensor(classifier.intercept_, dtype=torch.float32))
        return model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_sparse:
            return torch.sparse.mm(x, self.linear.weight.t()) + self.linear.bias
        return self.linear(x)


class TextCNN(nn.Module):
    """Convolutions over word embeddings, max-pooled over time (Kim, 2014): ids ``(N, L)`` → logits ``(N, K)``.

    Each kernel width ``k`` detects ``channels`` k-gram patterns anywhere in the text; the max over
    positions says how strongly each pattern occurs. A text shorter than the widest kernel is padded.
    """

    def __init__(self, vocab_size: int, num_classes: int = 3, embed_dim: int = 128,
                 kernel_sizes: Sequence[int] = (3, 4, 5), channels: int = 100, dropout: float = 0.5):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, channels, k) for k in kernel_sizes)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels * len(kernel_sizes), num_classes)
        self.min_len = max(kernel_sizes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] < self.min_len:
            ids = F.pad(ids, (0, self.min_len - ids.shape[1]), value=PAD_ID)
        lengths = padding_mask(ids).sum(1, keepdim=True)  # (N, 1) real tokens per text
        x = self.embed(ids).transpose(1, 2)  # (N, E, L): Conv1d wants channels first
        pooled = []
        for conv in self.convs:
            k = conv.kernel_size[0]
            h = F.relu(conv(x))  # (N, C, L - k + 1): one value per window of k tokens
            # only windows inside the text count (for a text shorter than k: the first window), so the
            # answer does not depend on how much padding the batch adds
            starts = torch.arange(h.shape[2], device=ids.device)
            valid = (starts < (lengths.clamp(min=k) - k + 1)).unsqueeze(1)  # (N, 1, L - k + 1)
            pooled.append(h.masked_fill(~valid, 0.0).amax(dim=2))  # (N, C); ReLU ≥ 0, so 0 is neutral
        return self.head(self.dropout(torch.cat(pooled, dim=1)))


class BiLSTMClassifier(nn.Module):
    """A bidirectional LSTM over word embeddings, masked max-pooling: ids ``(N, L)`` → logits ``(N, K)``.

    Packed sequences make each direction start and stop at the real tokens, so the padding never
    enters the recurrent state.
    """

    def __init__(self, vocab_size: int, num_classes: int = 3, embed_dim: int = 128, hidden: int = 128,
                 layers: int = 1, dropout: float = 0.3):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(embed_dim, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = padding_mask(ids)  # (N, L)
        lengths = mask.sum(1).clamp(min=1).cpu()
        x = self.dropout(self.embed(ids))  # (N, L, E)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])  # (N, L, 2H)
        out = out.masked_fill(~mask.unsqueeze(2), float("-inf")).amax(dim=1)  # (N, 2H)
        return self.head(self.dropout(out))


class TransformerClassifier(nn.Module):
    """A small Transformer encoder: ids ``(N, L)`` → logits ``(N, K)``.

    Token + learned position embeddings, ``layers`` pre-norm encoder blocks (self-attention that
    ignores padding, then an MLP), a final LayerNorm and masked mean-pooling over the tokens.
    """

    def __init__(self, vocab_size: int, num_classes: int = 3, d_model: int = 128, heads: int = 4,
                 layers: int = 2, ff: int = 256, max_len: int = 64, dropout: float = 0.1):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=PAD_ID)
        self.pos = nn.Embedding(max_len, d_model)
        block = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, num_classes)
        self.max_len = max_len

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids[:, : self.max_len]
        mask = padding_mask(ids)  # (N, L)
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.dropout(self.embed(ids) + self.pos(positions))  # (N, L, D)
        x = self.norm(self.encoder(x, src_key_padding_mask=~mask))  # True in the key mask = ignore
        weights = mask.unsqueeze(2).to(x.dtype)  # (N, L, 1)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)  # (N, D)
        return self.head(self.dropout(pooled))


ARCHITECTURES: dict[str, type[nn.Module]] = {
    "tfidf": TfidfLogisticRegression,
    "textcnn": TextCNN,
    "bilstm": BiLSTMClassifier,
    "transformer": TransformerClassifier,
}
"""Architecture name → class (the names used in the profile table and in checkpoints)."""


