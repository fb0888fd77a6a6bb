"""Why the missed targets are missed: sentences computed from a run's own figures (roofline,
PyTorch ratios, the end-to-end frame's detection time), with the diagnosis that holds for
them."""
from __future__ import annotations

from typing import Sequence

from .bench import BenchRun
from .figures import roofline, torch_comparison
from .formatting import fmt_seconds, pct


def explain_misses(run: BenchRun, results: Sequence[dict]) -> list[str]:
    """Why the missed targets are missed, in sentences computed from this run's numbers
    (roofline, PyTorch ratios, the end-to-end frame's detection time); [] when none is."""
    missed = {r["target"].label for r in results if r["measured"] is not None and not r["met"]}
    lines: list[str] = []
    every_roof = roofline(run)
    roof = [r for r in every_roof if r["framework"] == "jax"]
    comparison = torch_comparison(run)

    def best(model: str, kind: str) -> dict | None:
        rows = [r for r in roof if r["model"] == model and r["kind"] == kind]
        return max(rows, key=lambda r: r["batch"] or 0, default=None)

    if any(label.startswith("mini-Xception") for label in missed):
        train, infer = best("mini-xception", "cnn-train"), best("mini-xception", "cnn-infer")
        dense = max((r for r in roof if r["model"] != "mini-xception" and r["intensity"]),
                    key=lambda r: r["pct_peak"] or 0, default=None)
        if train and infer:
            text = (f"* **mini-Xception** does {train['mflops']:.0f} MFLOP per training image and "
                    f"{infer['mflops']:.1f} per inference image, and runs at "
                    f"{pct(train['pct_peak'])} of the measured peak in training and "
                    f"{pct(infer['pct_peak'])} in inference")
            if train["intensity"] and infer["intensity"]:
                text += (f". Its arithmetic intensity is {train['intensity']:.1f} FLOP per byte "
                         f"accessed in training and {infer['intensity']:.1f} in inference (XLA's "
                         "estimate of the bytes its fused operations read and write)")
                if dense:
                    text += (f", against {dense['intensity']:.0f} for {dense['model']}, which "
                             f"reaches {pct(dense['pct_peak'])} of peak")
                text += (": the network is thin (depthwise 3x3 convolutions, batch norm, ReLU and "
                         "pooling over 8 to 128 channels), so its time goes into passes over the "
                         "activations, not arithmetic")
            lines.append(text + ".")
        mx = [r for r in comparison if r["model"] == "mini-xception"]
        train_ratio = next((r for r in mx if r["kind"] == "cnn-train"), None)
        infer_ratios = [r for r in mx if r["kind"] == "cnn-infer"]
        if train_ratio and infer_ratios:
            best_infer = max(r["ratio"] for r in infer_ratios)
            text = (f"* Against PyTorch, the same network's training step runs at "
                    f"{train_ratio['ratio']:.2f}x and inference at "
                    + ", ".join(f"{r['ratio']:.2f}x (batch {r['batch']})" for r in infer_ratios))
            if best_infer >= 1 > train_ratio["ratio"]:
                text += (": the forward pass is competitive, the gap is in the backward pass "
                         "(the per-fusion profile in `benchmarks/deep_perf.md` spreads it over "
                         "batch-norm statistics and their gradients, ReLU masks, pooling selects "
                         "and the depthwise kernel gradients); closing it needs fewer passes over "
                         "the activations (fused convolution + batch-norm kernels), which XLA's "
                         "CPU backend does not generate from this JAX code")
            elif train_ratio["ratio"] < 1 and best_infer < 1:
                text += ": both directions are slower than PyTorch's kernels on this machine"
            lines.append(text + ".")
    vgg = next((r for r in comparison if r["model"] == "cpu-vgg" and r["kind"] == "cnn-train"),
               None)
    if any(label.startswith("cpu-vgg") for label in missed) and vgg:
        jax_roof = next((r for r in roof if r["bench"].name == vgg["jax_bench"]), None)
        torch_roof = next((r for r in every_roof if r["bench"].name == vgg["torch_bench"]), None)
        text = (f"* **cpu-vgg**'s training step runs at {vgg['ratio']:.2f}x PyTorch's "
                f"({vgg['torch_config']})")
        if jax_roof and torch_roof:
            text += (f", {pct(jax_roof['pct_peak'])} of the measured peak against "
                     f"{pct(torch_roof['pct_peak'])}: its time is in plain 3x3 convolutions "
                     "(GEMMs) and their gradients, where the two frameworks' kernels, not the "
                     "passes over the activations, set the pace")
        lines.append(text + ".")
    frame = [b for b in run.select(kind="end-to-end", faces=1)
             if b.info.get("detect_median_s") is not None]
    if any(label.startswith("640x480") for label in missed) and frame:
        b = min(frame, key=lambda b: b.median_s)
        detect = b.info["detect_median_s"]
        share = detect / b.median_s
        lines.append(f"* **End to end**, Haar detection takes {fmt_seconds(detect)} of the "
                     f"{fmt_seconds(b.median_s)} per frame ({pct(100 * share)}): a faster frame "
                     "needs a smaller detection width or detecting every other frame.")
    if lines:
        lines = ["## Why the missed targets are missed", "",
                 "Computed from the figures of this run.", "", *lines]
    return lines
