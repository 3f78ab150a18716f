"""The course map: chapters in reading order, the branch of AIGC each belongs to, and the glossary."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from . import config


@dataclass(frozen=True)
class ChapterInfo:
    number: str
    title: str
    branch: str  # "foundations", "neural networks", "GAN", "image generation", "NLP", "TTS", "applications"


CHAPTER_MAP: tuple[ChapterInfo, ...] = tuple(
    ChapterInfo(stem[:2], spec.title, spec.branch) for stem, spec in sorted(config.CHAPTERS.items())
)
"""The chapters in reading order, read from their profile-table rows (the only place a title or branch is written)."""

BRANCHES: tuple[str, ...] = ("neural networks", "GAN", "image generation", "NLP", "TTS")
"""The five branches that grow out of deep learning in the course map."""

GLOSSARY: dict[str, str] = {
    "artificial intelligence generated content (AIGC)": "人工智能生成内容",
    "deep learning": "深度学习",
    "neural network": "神经网络",
    "activation function": "激活函数",
    "backpropagation": "反向传播",
    "gradient descent": "梯度下降",
    "loss function": "损失函数",
    "cross-entropy": "交叉熵",
    "mean squared error (MSE)": "均方误差",
    "maximum likelihood": "最大似然",
    "overfitting": "过拟合",
    "generative adversarial network (GAN)": "生成对抗网络",
    "generator / discriminator": "生成器 / 判别器",
    "mode collapse": "模式崩溃",
    "variational autoencoder (VAE)": "变分自编码器",
    "latent space": "潜在空间",
    "diffusion model": "扩散模型",
    "natural language processing (NLP)": "自然语言处理",
    "language model": "语言模型",
    "recurrent neural network (RNN)": "循环神经网络",
    "long short-term memory (LSTM)": "长短期记忆网络",
    "attention / self-attention": "注意力 / 自注意力",
    "Transformer": "Transformer（变换器）",
    "token / tokenisation": "词元 / 分词",
    "perplexity": "困惑度",
    "sentiment analysis": "情感分析",
    "text-to-speech (TTS)": "语音合成",
    "spectrogram / mel spectrogram": "频谱图 / 梅尔频谱图",
    "vocoder": "声码器",
    "image generation": "图像生成",
    "recommendation system": "推荐系统",
    "fine-tuning": "微调",
    "flow matching": "流匹配",
    "classifier-free guidance": "无分类器引导",
    "held-out": "留出",
    "checkpoint": "检查点",
    "grounded (in a retrieved passage)": "依据",
    "burst / decoy": "爆发 / 诱饵",
}


def draw_course_map(show: bool = True) -> Figure | None:
    """Draw deep learning → the five branches → the chapters that teach each (one figure)."""
    colours = {"neural networks": "#4C72B0", "GAN": "#DD8452", "image generation": "#55A868",
               "NLP": "#C44E52", "TTS": "#8172B3"}
    fig, ax = plt.subplots(figsize=(11, 5.2))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6)
    ax.axis("off")
    box = dict(boxstyle="round,pad=0.4", fc="#222222", ec="none")
    ax.text(5, 5.5, "deep learning", ha="center", va="center", color="white", fontsize=12, bbox=box)
    xs = [1.0 + 2.0 * i for i in range(len(BRANCHES))]
    for x, branch in zip(xs, BRANCHES):
        ax.annotate("", xy=(x, 4.35), xytext=(5, 5.15), arrowprops=dict(arrowstyle="->", color="gray"))
        ax.text(x, 4.1, branch, ha="center", va="center", color="white", fontsize=11,
                bbox=dict(boxstyle="round,pad=0.35", fc=colours[branch], ec="none"))
        chapters = [c for c in CHAPTER_MAP if c.branch == branch]
        for j, c in enumerate(chapters):
            ax.text(x, 3.3 - 0.55 * j, f"{c.number} {c.title}", ha="center", va="center", fontsize=7.5,
                    wrap=True, bbox=dict(boxstyle="round,pad=0.3", fc="white", ec=colours[branch]))
    apps = ", ".join(f"{c.number}" for c in CHAPTER_MAP if c.branch == "applications")
    ax.text(5, 0.55, f"applications build on all branches: chapters {apps} (customer service, "
            "financial sentiment, recommendation)", ha="center", fontsize=9, style="italic")
    ax.text(5, 0.1, "00 welcome · 14 risks & responsibility · 15 scaling out frame the whole course",
            ha="center", fontsize=9, color="dimgray")
    fig.tight_layout()
    if show:
        plt.show()
        return None
    return fig
