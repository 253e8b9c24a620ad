"""Training speed of the sentence VAE on Yelp, in tokens/s, against a textbook PyTorch loop of the same model,
and the time of the k = 500 evaluation of the test split.

    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/text_throughput.py --write    # ~10 minutes on 2 cores
    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/text_throughput.py --smoke    # < 1 minute

Speed target: vaekit trains at >= 1.5x the tokens/s of the textbook loop, as the median of interleaved rounds
in one run. The model is vaekit's default sentence VAE (embedding 128, LSTM 256, z 32, Yelp's vocabulary);
the textbook loop is the same model written as tutorials write it: a DataLoader over the sentences in random
batches padded to their longest with `pad_sequence`, the encoder's LSTM over packed sequences,
`F.cross_entropy(..., ignore_index=pad)`, `loss.backward(); opt.step()`. Tokens are the sentences' real tokens
and their `<eos>`, the same count for both. Each round runs one pass over `--limit` training sentences of each
loop, vaekit first; both loops are warmed up by one pass before the first round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import torch
import torch.nn.functional as F
from docsection import write_section
from throughput import TrainerLoop, machine
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

B, E, H, Z = 32, 128, 256, 32  # He et al. 2019's batch and latent size; vaekit's default widths
PAD, BOS = 0, 2


class TextbookSentenceVAE(nn.Module):
    """Bowman et al.'s sentence VAE as tutorials write it, layer for layer vaekit's default model."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.enc_embed = nn.Embedding(vocab, E, padding_idx=PAD)
        self.dec_embed = nn.Embedding(vocab, E, padding_idx=PAD)
        self.enc = nn.LSTM(E, H, batch_first=True)
        self.to_q = nn.Linear(H, 2 * Z)
        self.to_c0 = nn.Linear(Z, H)
        self.dec = nn.LSTM(E + Z, H, batch_first=True)
        self.out = nn.Linear(H, vocab)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The negative ELBO of a padded batch x (B, T), averaged over the batch."""
        packed = pack_padded_sequence(self.enc_embed(x), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.enc(packed)
        mu, logvar = self.to_q(h[0]).chunk(2, -1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        c0 = self.to_c0(z)
        inputs = torch.cat([torch.full_like(x[:, :1], BOS), x[:, :-1]], 1)
        e = torch.cat([self.dec_embed(inputs), z[:, None].expand(-1, x.shape[1], -1)], -1)
        out, _ = self.dec(e, (torch.tanh(c0)[None], c0[None]))
        rec = F.cross_entropy(self.out(out).reshape(-1, self.out.out_features), x.reshape(-1), ignore_index=PAD,
                              reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (rec + kl) / len(x)


class TextbookLoop:
    def __init__(self, x: torch.Tensor, lengths: torch.Tensor, vocab: int) -> None:
        torch.manual_seed(0)
        items = [row[:n] for row, n in zip(x, lengths.tolist(), strict=True)]
        self.loader = torch.utils.data.DataLoader(items, batch_size=B, shuffle=True, collate_fn=self.collate)
        self.model = TextbookSentenceVAE(vocab)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    @staticmethod
    def collate(items: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return pad_sequence(items, batch_first=True, padding_value=PAD), torch.tensor([len(i) for i in items])

    def epoch(self) -> float:
        t = time.perf_counter()
        for xb, lengths in self.loader:
            loss = self.model(xb, lengths)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        return time.perf_counter() - t


def rounds(args: argparse.Namespace, res: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        from vaekit import Config, DataConfig, TrainConfig

        vk = TrainerLoop(Config(DataConfig(dataset=args.data),
                                train=TrainConfig(epochs=1000, batch_size=B, progress=False)), Path(tmp), args.limit)
        data = vk.trainer.train_data
        tokens = int(data.lengths.sum())
        tb = TextbookLoop(data.x, data.lengths, len(data.stats["vocabulary"]))
        vk.epoch(), tb.epoch()  # warm-up
        rates: dict[str, list[float]] = {"vaekit": [], "textbook": []}
        for _ in range(args.rounds):
            rates["vaekit"].append(tokens / vk.epoch())
            rates["textbook"].append(tokens / tb.epoch())
        ratios = [a / b for a, b in zip(rates["vaekit"], rates["textbook"], strict=True)]
        padded = sum(int(x.shape[1]) * len(x) for x, _ in tb.loader)
        res.update(tokens=tokens, sentences=len(data), vocabulary=len(data.stats["vocabulary"]), rounds=rates,
                   ratios=ratios, ratio=statistics.median(ratios), textbook_padding=1 - tokens / padded,
                   vaekit_tokens_per_s=statistics.median(rates["vaekit"]),
                   textbook_tokens_per_s=statistics.median(rates["textbook"]))
        if not args.smoke:
            evaluation_time(vk.trainer.eval_model, vk.trainer.cfg, data.stats, args, res)


def evaluation_time(model: nn.Module, cfg: object, stats: dict, args: argparse.Namespace, res: dict) -> None:
    """Minutes of `evaluate` at k = 500 on the first --eval-limit test sentences (an untrained model costs
    what a trained one does: the same passes)."""
    from vaekit.evaluation import evaluate
    from vaekit.kinds import load_split

    test = load_split(cfg.data, "test", stats=stats)
    n = min(args.eval_limit, len(test))
    t = time.perf_counter()
    evaluate(model, test, k=args.k, limit=n, progress=False)
    minutes = (time.perf_counter() - t) / 60
    res.update(eval_k=args.k, eval_sentences=n, test_sentences=len(test), eval_minutes=minutes,
               eval_minutes_whole_test=minutes * len(test) / n)


def table(res: dict, args: argparse.Namespace) -> str:
    rows = [("**vaekit ÷ textbook, median of the rounds**", f"**{res['ratio']:.2f}×**",
             "target ≥ 1.5×; rounds: " + ", ".join(f"{r:.2f}×" for r in res["ratios"])),
            ("vaekit training", f"{res['vaekit_tokens_per_s']:,.0f} tokens/s", "length-bucketed batches"),
            ("textbook loop, same model", f"{res['textbook_tokens_per_s']:,.0f} tokens/s",
             f"random batches padded to their longest: {100 * res['textbook_padding']:.1f} % padding")]
    if "eval_minutes" in res:
        rows.append((f"evaluation, k = {res['eval_k']}", f"{res['eval_minutes']:.2f} min for "
                     f"{res['eval_sentences']:,} test sentences",
                     f"{res['eval_minutes_whole_test']:.0f} min for all {res['test_sentences']:,}, extrapolated"))
    lines = ["| measure | figure | note |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def section(text: str, args: argparse.Namespace, res: dict) -> str:
    cmd = "VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/text_throughput.py --write"
    return (f"## Sentences: training tokens/s and evaluation time\n\nCommand: `{cmd}`  \nMachine: {machine()}; "
            f"date {date.today()}.  \n{args.rounds} interleaved rounds, each one pass of each loop over the first "
            f"{res['sentences']:,} Yelp training sentences ({res['tokens']:,} tokens, vocabulary "
            f"{res['vocabulary']:,}), batch {B}, after one warm-up pass each.\n\n{text}\n\nWhy vaekit is faster: "
            "its batches hold sentences of about one length (`vaekit.data` sorts windows of 50 batches by length, "
            "then shuffles the batches), so it spends almost no LSTM steps or output-layer rows on padding; the "
            "textbook loop pads each random batch to its longest sentence. The output layer and its softmax over "
            "the vocabulary are most of the work (about 5 of the 6 MFLOP a token takes forward), so the k = 500 "
            "evaluation, which runs the decoder for every one of the 500 draws of z, takes hours on the whole "
            "test split of a 2-core CPU: `vaekit evaluate --limit N` evaluates the first N sentences.")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="yelp", help="the sentence data set (default: yelp)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: 3)")
    p.add_argument("--limit", type=int, default=10_000, help="training sentences a pass (default: 10,000)")
    p.add_argument("--k", type=int, default=500, help="importance samples of the timed evaluation (default: 500)")
    p.add_argument("--eval-limit", type=int, default=500, help="test sentences timed (default: 500)")
    p.add_argument("--smoke", action="store_true", help="text-shapes, 2 rounds of 1,000 sentences, no evaluation")
    p.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = p.parse_args()
    if args.smoke:
        args.data, args.rounds, args.limit = "text-shapes", 2, 1000
    res: dict = {}
    rounds(args, res)
    text = table(res, args)
    print(text)
    print(json.dumps(res))
    if args.write and not args.smoke:
        write_section("text-throughput", section(text, args, res))


if __name__ == "__main__":
    main()
